import KVStore
import ShardRouter

/// Per-connection state a client can set or ask about.
struct ClientSession: Hashable, Sendable {
    /// Unique per node for the life of the process (CLIENT ID).
    let id: Int64
    /// Set by CLIENT SETNAME or HELLO SETNAME; empty when unset.
    var name = ""
    /// RESP2, or RESP3 after `HELLO 3`: how this connection's replies are written.
    var protocolVersion = RESPProtocol.resp2
    /// Set once QUIT is received: the reply is sent, then the connection closes and any
    /// requests pipelined after QUIT are dropped.
    var isClosing = false
    /// Inside MULTI: the commands queued for EXEC; nil otherwise.
    var transaction: QueuedTransaction?
    /// WATCHed keys with what they were at WATCH, until EXEC, DISCARD or UNWATCH.
    var watched: [WatchedKey] = []
}

/// A MULTI block being queued.
struct QueuedTransaction: Hashable, Sendable {
    var commands: [RESPCommand] = []
    /// A command was refused while queueing (unknown, wrong arity, another slot): EXEC aborts.
    var aborted = false
    /// The slot of the keys queued or watched so far: every key of a block shares one slot.
    var slot: Slot?
}
