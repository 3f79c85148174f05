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
}
