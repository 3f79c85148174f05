/// One command MyStore serves, as `COMMAND` describes it (Redis 7.2's fields): the single place
/// that says which commands exist, how many arguments each takes, where its keys are, and
/// which flags and ACL categories it has. The connection handler checks names and arity
/// against it before anything runs; `COMMAND`, the metrics' command names, the router's
/// command set and docs/compatibility.md (checked by a test) all come from it. Adding a
/// command means adding an entry here.
struct CommandSpec: Sendable, Hashable {
    /// Upper-case name (`GET`, `MYSTORE.HISTORY`).
    let name: String
    /// Redis's arity: N means exactly N arguments counting the name, -N at least N.
    let arity: Int
    /// Redis's command flags: `write`, `readonly`, `denyoom`, `fast`, `admin`, `loading`,
    /// `stale`, `noscript`, `no_auth`, `movablekeys`, ...
    let flags: [String]
    /// Position of the first key, the last key (negative: counted from the end) and the step
    /// between keys; all 0 for a command without keys.
    let firstKey: Int, lastKey: Int, step: Int
    /// ACL categories without the `@`: `read`, `write`, `string`, `keyspace`, `fast`, `slow`,
    /// `connection`, `admin`, `dangerous`, ...
    let categories: [String]
    /// Where the command is answered: by the connection itself, or by the cluster (routed).
    let scope: Scope
    /// Redis's documentation group (`string`, `generic`, `connection`, `server`, `cluster`)
    /// or `mystore` for MyStore's own commands.
    let group: String
    /// The Redis (or MyStore) version that introduced the command.
    let since: String
    /// One line on what the command does.
    let summary: String

    enum Scope: Sendable, Hashable {
        /// Answered by the connection (`ConnectionCommands`): handshake and introspection.
        case connection
        /// Answered by the router (`CommandRouter`): keys, cluster state, administration.
        case routed
    }

    var isWrite: Bool { flags.contains("write") }
    var hasKeys: Bool { firstKey > 0 }

    /// Whether `count` arguments (the name included) satisfy the arity.
    func accepts(argumentCount count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }

    /// Positions of the key arguments in a command of `count` arguments (name at 0), from the
    /// fixed key positions; empty for commands whose keys move (`movablekeys`).
    func keyPositions(argumentCount count: Int) -> [Int] {
        guard hasKeys, !flags.contains("movablekeys"), count > firstKey else { return [] }
        let last = lastKey >= 0 ? min(lastKey, count - 1) : count + lastKey
        guard last >= firstKey else { return [] }
        return Array(stride(from: firstKey, through: last, by: max(step, 1)))
    }

    /// The key specification (Redis 7 `key_specs`) that the fixed positions describe.
    var keySpecFlags: [String] {
        if name == "DEL" || name == "UNLINK" { return ["RM", "DELETE"] }
        if name == "GETDEL" { return ["RW", "ACCESS", "DELETE"] }
        if isWrite { return ["RW", "UPDATE"] }
        return ["RO", "ACCESS"]
    }
}

enum CommandTable {
    private static func spec(_ name: String, _ arity: Int, _ flags: [String], _ keys: (Int, Int, Int), _ categories: [String],
                             _ scope: CommandSpec.Scope, _ group: String, _ since: String, _ summary: String) -> CommandSpec {
        CommandSpec(name: name, arity: arity, flags: flags, firstKey: keys.0, lastKey: keys.1, step: keys.2,
                    categories: categories, scope: scope, group: group, since: since, summary: summary)
    }

    private static let none = (0, 0, 0)
    private static let one = (1, 1, 1)
    private static let all = (1, -1, 1)

    /// Every command served, in `COMMAND`'s order.
    static let commands: [CommandSpec] = [
        // Strings.
        spec("GET", 2, ["readonly", "fast"], one, ["read", "string", "fast"], .routed, "string", "1.0.0", "Returns the string value of a key."),
        spec("SET", -3, ["write", "denyoom"], one, ["write", "string", "slow"], .routed, "string", "1.0.0",
             "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
        spec("SETNX", 3, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "1.0.0",
             "Set the string value of a key only when the key doesn't exist."),
        spec("SETEX", 4, ["write", "denyoom"], one, ["write", "string", "slow"], .routed, "string", "2.0.0",
             "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
        spec("PSETEX", 4, ["write", "denyoom"], one, ["write", "string", "slow"], .routed, "string", "2.6.0",
             "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
        spec("GETSET", 3, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "1.0.0",
             "Returns the previous string value of a key after setting it to a new value."),
        spec("GETDEL", 2, ["write", "fast"], one, ["write", "string", "fast"], .routed, "string", "6.2.0",
             "Returns the string value of a key after deleting the key."),
        spec("APPEND", 3, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "2.0.0",
             "Appends a string to the value of a key. Creates the key if it doesn't exist."),
        spec("STRLEN", 2, ["readonly", "fast"], one, ["read", "string", "fast"], .routed, "string", "2.2.0", "Returns the length of a string value."),
        spec("INCR", 2, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "1.0.0",
             "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
        spec("DECR", 2, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "1.0.0",
             "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
        spec("INCRBY", 3, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "1.0.0",
             "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
        spec("DECRBY", 3, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "1.0.0",
             "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
        spec("MGET", -2, ["readonly", "fast"], all, ["read", "string", "fast"], .routed, "string", "1.0.0",
             "Atomically returns the string values of one or more keys (in one slot)."),
        spec("MSET", -3, ["write", "denyoom"], (1, -1, 2), ["write", "string", "slow"], .routed, "string", "1.0.1",
             "Atomically creates or modifies the string values of one or more keys (in one slot)."),
        // Keys.
        spec("DEL", -2, ["write"], all, ["keyspace", "write", "slow"], .routed, "generic", "1.0.0", "Deletes one or more keys (in one slot)."),
        spec("UNLINK", -2, ["write", "fast"], all, ["keyspace", "write", "fast"], .routed, "generic", "4.0.0",
             "Deletes one or more keys (in one slot); MyStore frees them at once, as DEL does."),
        spec("EXISTS", -2, ["readonly", "fast"], all, ["keyspace", "read", "fast"], .routed, "generic", "1.0.0",
             "Determines whether one or more keys (in one slot) exist."),
        spec("TTL", 2, ["readonly", "fast"], one, ["keyspace", "read", "fast"], .routed, "generic", "1.0.0", "Returns the expiration time in seconds of a key."),
        spec("PTTL", 2, ["readonly", "fast"], one, ["keyspace", "read", "fast"], .routed, "generic", "2.6.0",
             "Returns the expiration time in milliseconds of a key."),
        spec("EXPIRE", -3, ["write", "fast"], one, ["keyspace", "write", "fast"], .routed, "generic", "1.0.0",
             "Sets the expiration time of a key in seconds (NX, XX, GT, LT as in Redis 7)."),
        spec("PEXPIRE", -3, ["write", "fast"], one, ["keyspace", "write", "fast"], .routed, "generic", "2.6.0",
             "Sets the expiration time of a key in milliseconds."),
        spec("EXPIREAT", -3, ["write", "fast"], one, ["keyspace", "write", "fast"], .routed, "generic", "1.2.0",
             "Sets the expiration time of a key to a Unix timestamp."),
        spec("PEXPIREAT", -3, ["write", "fast"], one, ["keyspace", "write", "fast"], .routed, "generic", "2.6.0",
             "Sets the expiration time of a key to a Unix milliseconds timestamp."),
        spec("PERSIST", 2, ["write", "fast"], one, ["keyspace", "write", "fast"], .routed, "generic", "2.2.0",
             "Removes the expiration time of a key."),
        spec("EXPIRETIME", 2, ["readonly", "fast"], one, ["keyspace", "read", "fast"], .routed, "generic", "7.0.0",
             "Returns the expiration time of a key as a Unix timestamp."),
        spec("PEXPIRETIME", 2, ["readonly", "fast"], one, ["keyspace", "read", "fast"], .routed, "generic", "7.0.0",
             "Returns the expiration time of a key as a Unix milliseconds timestamp."),
        spec("TYPE", 2, ["readonly", "fast"], one, ["keyspace", "read", "fast"], .routed, "generic", "1.0.0",
             "Determines the type of value stored at a key (MyStore holds strings)."),
        spec("TOUCH", -2, ["readonly", "fast"], all, ["keyspace", "read", "fast"], .routed, "generic", "3.2.1",
             "Returns the number of existing keys out of those specified (in one slot)."),
        spec("GETEX", -2, ["write", "fast"], one, ["write", "string", "fast"], .routed, "string", "6.2.0",
             "Returns the string value of a key after setting its expiration time (EX, PX, EXAT, PXAT, PERSIST)."),
        spec("MSETNX", -3, ["write", "denyoom"], (1, -1, 2), ["write", "string", "slow"], .routed, "string", "1.0.1",
             "Atomically sets the string values of keys (in one slot) only when none of them exists."),
        spec("GETRANGE", 4, ["readonly"], one, ["read", "string", "slow"], .routed, "string", "2.4.0",
             "Returns a substring of the string stored at a key."),
        spec("SUBSTR", 4, ["readonly"], one, ["read", "string", "slow"], .routed, "string", "1.0.0",
             "Returns a substring from a string value (GETRANGE's old name)."),
        spec("SETRANGE", 4, ["write", "denyoom"], one, ["write", "string", "slow"], .routed, "string", "2.2.0",
             "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
        spec("INCRBYFLOAT", 3, ["write", "denyoom", "fast"], one, ["write", "string", "fast"], .routed, "string", "2.6.0",
             "Increments the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
        spec("LCS", -3, ["readonly"], (1, 2, 1), ["read", "string", "slow"], .routed, "string", "7.0.0",
             "Finds the longest common substring of two keys' values (in one slot)."),
        spec("RENAME", 3, ["write"], (1, 2, 1), ["keyspace", "write", "slow"], .routed, "generic", "1.0.0",
             "Renames a key and overwrites the destination (both in one slot)."),
        spec("RENAMENX", 3, ["write", "fast"], (1, 2, 1), ["keyspace", "write", "fast"], .routed, "generic", "1.0.0",
             "Renames a key only when the target key name doesn't exist (both in one slot)."),
        spec("COPY", -3, ["write", "denyoom"], (1, 2, 1), ["keyspace", "write", "slow"], .routed, "generic", "6.2.0",
             "Copies the value of a key to a new key (in the same slot; DB 0 only)."),
        spec("SETBIT", 4, ["write", "denyoom"], one, ["write", "bitmap", "slow"], .routed, "bitmap", "2.2.0",
             "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
        spec("GETBIT", 3, ["readonly", "fast"], one, ["read", "bitmap", "fast"], .routed, "bitmap", "2.2.0",
             "Returns a bit value by offset."),
        spec("MEMORY", -2, ["readonly"], (2, 2, 1), ["read", "slow"], .routed, "server", "4.0.0",
             "USAGE key: the bytes a key and its value take."),
        spec("FLUSHALL", -1, ["write"], none, ["keyspace", "write", "slow", "dangerous"], .routed, "server", "1.0.0",
             "Removes every key of the cluster, shard by shard (SYNC and ASYNC both finish before the reply)."),
        spec("FLUSHDB", -1, ["write"], none, ["keyspace", "write", "slow", "dangerous"], .routed, "server", "1.0.0",
             "Removes every key of the database (MyStore's only one: the whole cluster)."),
        spec("SCAN", -2, ["readonly"], none, ["keyspace", "read", "slow"], .routed, "generic", "2.8.0",
             "Iterates over the key names in the whole cluster, shard by shard."),
        spec("DBSIZE", 1, ["readonly", "fast"], none, ["keyspace", "read", "fast"], .routed, "server", "1.0.0",
             "Returns the number of keys in the cluster (the sum over its shards)."),
        // Transactions.
        spec("MULTI", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], none, ["fast", "transaction"], .connection, "transactions", "1.2.0",
             "Starts a transaction: later commands are queued until EXEC."),
        spec("EXEC", 1, ["noscript", "loading", "stale", "skip_slowlog"], none, ["slow", "transaction"], .connection, "transactions", "1.2.0",
             "Runs the queued commands atomically, as one Raft entry of their shard; null when a WATCHed key changed."),
        spec("DISCARD", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], none, ["fast", "transaction"], .connection, "transactions", "2.0.0",
             "Discards the queued commands and the WATCHed keys."),
        spec("WATCH", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], all, ["fast", "transaction"], .routed, "transactions", "2.2.0",
             "Monitors keys (one slot) so that the next EXEC runs only if none of them changed."),
        spec("UNWATCH", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], none, ["fast", "transaction"], .connection, "transactions", "2.2.0",
             "Forgets the WATCHed keys."),
        spec("WAIT", 3, ["noscript"], none, ["slow", "connection"], .routed, "generic", "3.0.0",
             "Waits until the other replicas of the last write's shard hold it; returns how many do."),
        // Cluster.
        spec("CLUSTER", -2, ["loading", "stale"], none, ["slow"], .routed, "cluster", "3.0.0",
             "Cluster state: SLOTS, SHARDS, NODES, INFO, KEYSLOT, MYID."),
        spec("READONLY", 1, ["loading", "stale", "fast"], none, ["fast", "connection"], .routed, "cluster", "3.0.0",
             "Enables read-only queries for a connection: reads are answered by any replica, possibly stale."),
        spec("READWRITE", 1, ["loading", "stale", "fast"], none, ["fast", "connection"], .routed, "cluster", "3.0.0",
             "Disables read-only queries for a connection."),
        // Connection and server.
        spec("PING", -1, ["fast"], none, ["fast", "connection"], .connection, "connection", "1.0.0", "Returns the server's liveliness response."),
        spec("ECHO", 2, ["fast"], none, ["fast", "connection"], .connection, "connection", "1.0.0", "Returns the given string."),
        spec("QUIT", -1, ["allow_busy", "noscript", "loading", "stale", "fast", "no_auth"], none, ["fast", "connection"], .connection,
             "connection", "1.0.0", "Closes the connection."),
        spec("SELECT", 2, ["loading", "stale", "fast"], none, ["fast", "connection"], .connection, "connection", "1.0.0",
             "Changes the selected database (MyStore has only database 0)."),
        spec("HELLO", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], none, ["fast", "connection"], .connection,
             "connection", "6.0.0", "Handshakes with the server."),
        spec("CLIENT", -2, ["loading", "stale"], none, ["slow", "connection"], .connection, "connection", "2.4.0",
             "The connection's id and name: ID, GETNAME, SETNAME, SETINFO."),
        spec("COMMAND", -1, ["loading", "stale"], none, ["slow", "connection"], .connection, "server", "2.8.13",
             "Returns detailed information about the commands served: COUNT, INFO, LIST, DOCS, GETKEYS."),
        spec("FUNCTION", -2, ["noscript"], none, ["slow", "scripting"], .connection, "scripting", "7.0.0",
             "The function library, always empty (MyStore runs no functions or scripts): FLUSH and LIST."),
        spec("TIME", 1, ["loading", "stale", "fast"], none, ["fast"], .connection, "server", "2.6.0",
             "Returns this node's time: Unix seconds and microseconds."),
        spec("INFO", -1, ["loading", "stale"], none, ["slow", "dangerous"], .routed, "server", "1.0.0",
             "Returns information and statistics about the server, in Redis's sections; keyspace counts the shards this node leads."),
        // MyStore's own.
        spec("MYSTORE.HISTORY", -2, ["readonly"], one, ["read", "string", "slow"], .routed, "mystore", "0.1.0",
             "Returns a key's past values with the Raft index that wrote each."),
        spec("MYSTORE.STATUS", 1, ["readonly", "loading", "stale"], none, ["slow"], .routed, "mystore", "0.1.0",
             "This node's shards as JSON: role, term, applied and commit index, leader."),
        spec("MYSTORE.EXEC", -4, ["write", "denyoom", "movablekeys"], none, ["write", "slow"], .routed, "mystore", "0.1.0",
             "Runs a write under a client session (client id, sequence), so a retry applies at most once."),
        spec("MYSTORE.TXN", -2, ["write", "denyoom", "movablekeys"], none, ["write", "slow", "transaction"], .routed, "mystore", "0.1.0",
             "A MULTI/EXEC block as one command (what EXEC sends to the shard's leader): watched keys with their fingerprints, then the commands."),
        spec("MYSTORE.SHARDWAIT", 4, ["noscript"], none, ["slow", "connection"], .routed, "mystore", "0.1.0",
             "WAIT's part on the shard's leader: how many other replicas hold its log up to the commit index."),
        spec("MYSTORE.SHARDCOUNT", 2, ["readonly"], none, ["keyspace", "read", "slow"], .routed, "mystore", "0.1.0",
             "The number of keys in one shard (DBSIZE's part on each shard)."),
        spec("MYSTORE.SHARDSCAN", -3, ["readonly"], none, ["keyspace", "read", "slow"], .routed, "mystore", "0.1.0",
             "One page of one shard's keys (SCAN's part on each shard)."),
        spec("MYSTORE.SHARDFLUSH", 2, ["write"], none, ["keyspace", "write", "slow", "dangerous"], .routed, "mystore", "0.1.0",
             "Empties one shard (FLUSHALL's part on each shard)."),
        spec("MYSTORE.NODE", -2, ["admin", "noscript"], none, ["admin", "slow", "dangerous"], .routed, "mystore", "0.1.0",
             "Adds, removes (drains) or lists the cluster's nodes."),
        spec("MYSTORE.REBALANCE", -1, ["admin", "noscript"], none, ["admin", "slow", "dangerous"], .routed, "mystore", "0.1.0",
             "Plans and queues replica moves and preferred leaders that even out the nodes."),
        spec("MYSTORE.SHARDMOVE", 4, ["admin", "noscript"], none, ["admin", "slow", "dangerous"], .routed, "mystore", "0.1.0",
             "Moves one replica of a shard from one node to another."),
        spec("MYSTORE.LEADERTRANSFER", 3, ["admin", "noscript"], none, ["admin", "slow", "dangerous"], .routed, "mystore", "0.1.0",
             "Hands a shard's leadership to its replica on a given node."),
        spec("MYSTORE.MOVES", 1, ["admin", "noscript"], none, ["admin", "slow"], .routed, "mystore", "0.1.0",
             "The queue of replica moves and how far each got."),
        spec("MYSTORE.BACKUP", -2, ["admin", "noscript"], none, ["admin", "slow", "dangerous"], .routed, "mystore", "0.1.0",
             "Streams one shard's state for `mystore backup`: MAP, BEGIN shard, NEXT session, END session."),
        spec("MYSTORE.JOININFO", 2, ["admin", "noscript", "loading", "stale"], none, ["admin", "slow"], .routed, "mystore", "0.1.0",
             "What a node joining the cluster needs to start: its id and the cluster's founding facts."),
    ]

    static let byName: [String: CommandSpec] = Dictionary(uniqueKeysWithValues: commands.map { ($0.name, $0) })

    /// The entry for an upper-case name.
    static func spec(named name: String) -> CommandSpec? { byName[name] }

    /// Names the router answers.
    static let routedNames: Set<String> = Set(commands.filter { $0.scope == .routed }.map(\.name))
}
