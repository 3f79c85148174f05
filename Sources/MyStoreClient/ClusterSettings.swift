/// The knobs of a ``ClusterClient``.
public struct ClusterSettings: Hashable, Sendable {
    /// Timeouts and reply limits of each node connection. Default: 2 s timeouts.
    public var connection: ConnectionSettings
    /// Retries of transient failures. Default: 6 tries within 10 s.
    public var retry: RetryPolicy
    /// Most `-MOVED`/`-ASK` redirects followed for one request. Default 5.
    public var maxRedirects: Int
    /// The session's client id for exactly-once writes; nil (the default) draws a random one.
    public var clientID: UInt64?

    public init(
        connection: ConnectionSettings = ConnectionSettings(),
        retry: RetryPolicy = RetryPolicy(),
        maxRedirects: Int = 5,
        clientID: UInt64? = nil
    ) {
        self.connection = connection
        self.retry = retry
        self.maxRedirects = maxRedirects
        self.clientID = clientID
    }
}
