/// Every limit of the key-value state machine, with its default.
///
/// All replicas of a shard must run with the same settings: they shape the replicated state
/// (which histories and sessions are kept), so differing settings would make replicas diverge.
public struct KVSettings: Sendable {
    /// Versions kept per key, newest first, for `history(_:limit:)` (the original MyStore's
    /// `get -rev`). 0 keeps no history.
    public var historyDepth = 8
    /// Client sessions kept for deduplication; the least recently used is evicted first.
    public var maxSessions = 100_000
    /// Sessions idle longer than this on the replicated clock are dropped (milliseconds).
    public var sessionTTLMillis: UInt64 = 3_600_000
    /// Results kept per client session: how far out of order (or how late) a client's
    /// pipelined or retried writes may arrive and still be answered exactly once.
    public var sessionWindow = 256
    /// Deleted or expired keys whose history is still kept; the longest retired is forgotten
    /// first (keys).
    public var maxRetiredKeys = 100_000
    /// Expired keys and idle sessions removed per applied entry, so one entry never pays for
    /// a mass expiry at once (each).
    public var purgeBatch = 128
    /// Largest value APPEND may build, as Redis's `proto-max-bulk-len` (bytes).
    public var maxValueBytes = 512 << 20
    /// Upper bound on one piece handed to `writeSnapshot`'s sink (bytes).
    public var snapshotPieceBytes = 64 << 10

    public init() {}
}
