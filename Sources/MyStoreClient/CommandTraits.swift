import ShardRouter

/// What the client needs to know about a command to send it: whether it writes (and so goes
/// through an exactly-once session) and which argument is the key that picks its slot.
public struct CommandTraits: Hashable, Sendable {
    /// Whether the command changes data; writes are wrapped in `MYSTORE.EXEC`.
    public let isWrite: Bool
    /// Index in the command (name is 0) of the key that decides the slot; nil for commands
    /// that any node answers (PING, INFO, CLUSTER ...).
    public let keyIndex: Int?

    /// The traits of `command` (name first). Unknown commands are treated as reads keyed by
    /// their first argument, which is how most Redis commands are laid out.
    public init(of command: [[UInt8]]) {
        let name = String(decoding: command.first ?? [], as: UTF8.self).uppercased()
        isWrite = Self.writes.contains(name)
        keyIndex = Self.keyless.contains(name) || command.count < 2 ? nil : 1
    }

    /// The slot of the command's key, nil when it has none.
    public func slot(of command: [[UInt8]]) -> Slot? {
        guard let keyIndex, keyIndex < command.count else { return nil }
        return Slot(forKey: command[keyIndex])
    }

    /// String and keyspace commands that change data.
    static let writes: Set<String> = [
        "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "GETEX", "MSET", "MSETNX",
        "DEL", "UNLINK", "INCR", "INCRBY", "INCRBYFLOAT", "DECR", "DECRBY", "APPEND", "SETRANGE",
        "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "RENAME", "RENAMENX", "COPY",
    ]

    /// Commands without a key.
    static let keyless: Set<String> = [
        "PING", "ECHO", "INFO", "HELLO", "CLIENT", "COMMAND", "CLUSTER", "DBSIZE", "SELECT",
        "QUIT", "TIME", "READONLY", "READWRITE", "ASKING", "MYSTORE.STATUS", "MYSTORE.BACKUP", "FLUSHALL", "FLUSHDB",
    ]
}
