/// The knobs of one ``RESPConnection``.
public struct ConnectionSettings: Hashable, Sendable {
    /// Bound on establishing the TCP connection. Default 2 s.
    public var connectTimeout: Duration
    /// Bound on writing one request (or one pipeline) into the socket. Default 2 s.
    public var writeTimeout: Duration
    /// Bound on waiting for each reply's next bytes once a request is sent. Default 2 s.
    public var readTimeout: Duration
    /// Largest bulk string accepted in a reply, in bytes. Default 512 MiB (the Redis limit).
    public var maxBulkBytes: Int
    /// Deepest nesting of arrays accepted in a reply. Default 32.
    public var maxNestingDepth: Int

    /// Settings with every timeout set to `timeout` (default 2 s).
    public init(
        timeout: Duration = .seconds(2),
        maxBulkBytes: Int = 512 * 1024 * 1024,
        maxNestingDepth: Int = 32
    ) {
        self.connectTimeout = timeout
        self.writeTimeout = timeout
        self.readTimeout = timeout
        self.maxBulkBytes = maxBulkBytes
        self.maxNestingDepth = maxNestingDepth
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for messages and `poll`).
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
