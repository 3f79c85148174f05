/// How a ``ClusterClient`` retries transient failures (connection errors, timeouts,
/// `-TRYAGAIN`, `-CLUSTERDOWN`, `-LOADING`): bounded exponential backoff with jitter, within
/// both an attempt count and a time budget. Redirects (`-MOVED`, `-ASK`) are not failures and
/// are bounded separately (``ClusterSettings/maxRedirects``).
public struct RetryPolicy: Hashable, Sendable {
    /// Most tries of one request, the first included. Default 6.
    public var maxAttempts: Int
    /// Pause before the first retry; doubles with each retry. Default 20 ms.
    public var initialBackoff: Duration
    /// Longest pause between two tries. Default 1 s.
    public var maxBackoff: Duration
    /// Bound on one request's total time, tries and pauses included. Each try's timeouts are
    /// cut to what is left of it. Default 10 s.
    public var budget: Duration

    public init(
        maxAttempts: Int = 6,
        initialBackoff: Duration = .milliseconds(20),
        maxBackoff: Duration = .seconds(1),
        budget: Duration = .seconds(10)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.budget = budget
    }

    /// No retries: one try only.
    public static let once = RetryPolicy(maxAttempts: 1)

    /// The pause after failed try number `attempt` (1-based): `initialBackoff * 2^(attempt-1)`,
    /// capped at `maxBackoff`, then scaled by a random factor in [0.5, 1] so clients that
    /// failed together do not retry together.
    public func backoff<Random: RandomNumberGenerator>(afterAttempt attempt: Int, using random: inout Random) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let full = min(maxBackoff, initialBackoff * (1 << exponent))
        return full * Double.random(in: 0.5...1, using: &random)
    }
}
