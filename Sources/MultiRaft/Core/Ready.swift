/// Everything the core asks its host to do, handed out by `RaftReplica.ready()`. The host
/// must, in this order: persist `snapshot`, `entries` (truncating the stored log from the
/// first entry's index) and `hardState`; then send `messages`; then apply the snapshot and
/// `committedEntries` to the state machine; then call `advance(_:)`.
public struct Ready: Sendable {
    public struct SoftState: Sendable, Equatable {
        public var leader: ReplicaID
        public var role: RaftRole
    }

    /// Set when leader or role changed since the last `Ready`.
    public var softState: SoftState?
    /// Set when it changed since the last `Ready`; persist before sending messages.
    public var hardState: HardState?
    /// Entries to persist.
    public var entries: [Entry] = []
    /// A snapshot received from the leader, to persist and install.
    public var snapshot: Snapshot?
    /// Entries committed and durable, to apply in order.
    public var committedEntries: [Entry] = []
    /// Messages to send once the above is durable.
    public var messages: [Message] = []
    /// Linearizable reads released by the leader.
    public var readStates: [ReadState] = []

    /// Whether the host must fsync before sending the messages.
    public var mustSync: Bool { hardState != nil || !entries.isEmpty || snapshot != nil }
    public var isEmpty: Bool {
        softState == nil && hardState == nil && entries.isEmpty && snapshot == nil
            && committedEntries.isEmpty && messages.isEmpty && readStates.isEmpty
    }
}

public enum RaftRole: String, Sendable {
    case follower, preCandidate, candidate, leader
}
