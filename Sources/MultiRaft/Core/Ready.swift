/// Everything the core asks its host to do, handed out by `RaftReplica.ready()`. The host
/// hands `snapshot`, `entries` (truncating the stored log from the first entry's index) and
/// `hardState` to storage; sends `messages` once those are durable (a leader's appends and
/// heartbeats may go at once, see `RaftHost`); applies the snapshot (once durable) and
/// `committedEntries`; calls `advance(_:)`; and calls `persisted(durableMark)` when the
/// write is durable, which may be after later Readies were handed out.
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
    /// Entries committed (durable on a quorum, if not yet here), to apply in order.
    public var committedEntries: [Entry] = []
    /// Messages to send now, before this Ready's writes are durable: a leader's appends and
    /// heartbeats while its term and vote are durable (followers then persist in parallel with
    /// the leader's own write, Raft thesis §10.2.1). Empty otherwise.
    public var messages: [Message] = []
    /// Messages to send only once this Ready's writes, and every earlier Ready's, are durable
    /// (votes, acknowledgements, snapshots, and everything while a write they could depend on is
    /// pending). Sending them is reported with `persisted(durableMark)`.
    public var messagesAfterWrite: [Message] = []
    /// Linearizable reads released by the leader.
    public var readStates: [ReadState] = []

    /// What to report to `RaftReplica.persisted(_:)` once this Ready's writes are durable and
    /// its `messagesAfterWrite` sent.
    public var durableMark: DurableMark {
        DurableMark(snapshotIndex: snapshot?.metadata.index, lastEntryIndex: entries.last?.index, lastEntryTerm: entries.last?.term ?? 0,
                    hardState: hardState, releasedMessages: !messagesAfterWrite.isEmpty)
    }

    /// Whether the host must write (and sync) something for this Ready.
    public var mustSync: Bool { hardState != nil || !entries.isEmpty || snapshot != nil }
    /// Whether the host must report this Ready with `persisted(durableMark)`, in order with
    /// the others that must: it writes something, or has messages waiting for the write.
    public var needsDurableReport: Bool { mustSync || !messagesAfterWrite.isEmpty }
    public var isEmpty: Bool {
        softState == nil && hardState == nil && entries.isEmpty && snapshot == nil
            && committedEntries.isEmpty && messages.isEmpty && messagesAfterWrite.isEmpty && readStates.isEmpty
    }
}

public enum RaftRole: String, Sendable {
    case follower, preCandidate, candidate, leader
}

/// What one `Ready` asked to persist, reported back once it is durable.
public struct DurableMark: Sendable, Equatable {
    public var snapshotIndex: LogIndex?
    public var lastEntryIndex: LogIndex?
    public var lastEntryTerm: Term
    /// The hard state the Ready handed out (its term and vote are durable with the report).
    public var hardState: HardState?
    /// Whether the Ready had `messagesAfterWrite` (sent with the report).
    public var releasedMessages: Bool

    public init(snapshotIndex: LogIndex? = nil, lastEntryIndex: LogIndex? = nil, lastEntryTerm: Term = 0, hardState: HardState? = nil,
                releasedMessages: Bool = false) {
        self.snapshotIndex = snapshotIndex
        self.lastEntryIndex = lastEntryIndex
        self.lastEntryTerm = lastEntryTerm
        self.hardState = hardState
        self.releasedMessages = releasedMessages
    }

    public var isEmpty: Bool { snapshotIndex == nil && lastEntryIndex == nil }
}
