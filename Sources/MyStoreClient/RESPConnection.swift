import ShardRouter

/// A blocking RESP2 connection to one node: send a command, get its reply; or pipeline many
/// (write all, then read all, in order). Every network wait is bounded by the settings'
/// timeouts. After a timeout, a closed connection or a protocol error the connection is
/// closed (its stream position is unknown) and every later call fails; open a new one.
///
/// Not thread-safe: use one connection per thread.
public final class RESPConnection {
    /// The node this connection talks to.
    public let node: NodeAddress
    /// The timeouts and reply limits in force.
    public let settings: ConnectionSettings

    private var socket: TCPSocket?
    private var parser: RESPParser
    private var chunk = [UInt8](repeating: 0, count: 16 * 1024)

    /// Connects to `node` within `settings.connectTimeout`.
    public convenience init(to node: NodeAddress, settings: ConnectionSettings = ConnectionSettings()) throws(ClientError) {
        try self.init(to: node, settings: settings, budget: nil)
    }

    /// Connects within the connect timeout or `budget`, whichever is shorter.
    init(to node: NodeAddress, settings: ConnectionSettings, budget: Duration?) throws(ClientError) {
        self.node = node
        self.settings = settings
        self.parser = RESPParser(maxBulkBytes: settings.maxBulkBytes, maxNestingDepth: settings.maxNestingDepth)
        self.socket = try TCPSocket(connectingTo: node, timeout: Self.bound(settings.connectTimeout, budget))
    }

    /// Whether the connection can still be used.
    public var isOpen: Bool { socket != nil }

    /// Sends one command (name and arguments as bytes) and returns its reply. Error replies
    /// (`-ERR ...`) are returned as ``RESPReply/error(_:)``, not thrown.
    public func send(_ command: [[UInt8]]) throws(ClientError) -> RESPReply {
        try send(command, budget: nil)
    }

    /// Writes every command in one go, then reads one reply per command, in order.
    public func pipeline(_ commands: [[[UInt8]]]) throws(ClientError) -> [RESPReply] {
        try pipeline(commands, budget: nil)
    }

    /// Closes the socket. Later calls fail with a closed-connection error.
    public func close() { socket = nil }

    // MARK: - Budgeted variants (the cluster client bounds whole operations)

    func send(_ command: [[UInt8]], budget: Duration?) throws(ClientError) -> RESPReply {
        let replies = try pipeline([command], budget: budget)
        guard let reply = replies.first else { throw .connectionClosed(node) }
        return reply
    }

    func pipeline(_ commands: [[[UInt8]]], budget: Duration?) throws(ClientError) -> [RESPReply] {
        guard socket != nil else { throw .connectionClosed(node) }
        var bytes: [UInt8] = []
        for command in commands { RESPEncoder.append(command, to: &bytes) }
        do {
            let writeTimeout = Self.bound(settings.writeTimeout, budget)
            try socket?.send(bytes, deadline: .now + writeTimeout, timeout: writeTimeout)
            var replies: [RESPReply] = []
            replies.reserveCapacity(commands.count)
            while replies.count < commands.count {
                replies.append(try readReply(budget: budget))
            }
            return replies
        } catch {
            if error.breaksConnection { close() }
            throw error
        }
    }

    /// The next reply: parses what is buffered, receiving more while it is incomplete. The
    /// read timeout restarts whenever bytes arrive, so a large reply that keeps flowing is not
    /// cut off; only silence is.
    private func readReply(budget: Duration?) throws(ClientError) -> RESPReply {
        let readTimeout = Self.bound(settings.readTimeout, budget)
        while true {
            do {
                if let reply = try parser.next() { return reply }
            } catch {
                throw .protocolError(node, offset: error.offset, reason: error.reason)
            }
            guard let socket else { throw .connectionClosed(node) }
            let count = try socket.receive(into: &chunk, deadline: .now + readTimeout, timeout: readTimeout)
            parser.append(chunk[0..<count])
        }
    }

    private static func bound(_ timeout: Duration, _ budget: Duration?) -> Duration {
        guard let budget else { return timeout }
        return max(.milliseconds(1), min(timeout, budget))
    }
}
