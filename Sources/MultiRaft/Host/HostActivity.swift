/// Counts of what the host thread did since it started, for metrics: how much work each round
/// of group commit carries (readies per round, messages per frame) tells whether batching works.
public struct HostActivity: Sendable {
    /// Rounds of group commit that handled at least one Ready.
    public var rounds: UInt64 = 0
    /// Readies handled (one per group with work, per round).
    public var readies: UInt64 = 0
    /// Raft messages handed to the transport, by kind (indexed by `Message.Kind.rawValue`).
    public var messagesSent = [UInt64](repeating: 0, count: Message.Kind.allCases.count)
    /// Batches handed to the transport (one frame each, to one node).
    public var batchesSent: UInt64 = 0
    /// Raft messages received from other nodes.
    public var messagesReceived: UInt64 = 0
    /// Snapshots written here for log compaction (not those received from a leader).
    public var snapshotsWritten: UInt64 = 0
    /// Uncompressed state bytes in those snapshots.
    public var snapshotBytesWritten: UInt64 = 0

    public init() {}

    mutating func sent(_ batch: [(group: GroupID, message: Message)]) {
        batchesSent += 1
        for (_, m) in batch { messagesSent[Int(m.kind.rawValue)] += 1 }
    }
}
