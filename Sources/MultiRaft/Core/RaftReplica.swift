/// What a replica recovers from its storage at start.
public struct PersistedState: Sendable {
    public var hardState: HardState
    public var snapshot: Snapshot?
    /// Entries after the snapshot, in order.
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    /// The initial state of a brand-new group: one committed configuration entry per voter,
    /// identical on every founding replica, so a group boots without coordination.
    public static func bootstrap(voters: [ReplicaID]) -> PersistedState {
        let entries = voters.enumerated().map { i, id in
            Entry(term: 1, index: LogIndex(i + 1), kind: .confChange, data: ConfChange.addVoter(id).encoded())
        }
        return PersistedState(hardState: HardState(term: 1, vote: 0, commit: LogIndex(voters.count)), entries: entries)
    }
}

/// One replica of one Raft group, as a pure deterministic state machine (in the style of
/// etcd-io/raft's RawNode). Inputs: `tick()`, `step(_:)`, `propose(_:)`,
/// `proposeConfChange(_:)`, `readIndex(_:)`, `transferLeadership(to:)`. Output: `ready()`,
/// acknowledged with `advance(_:)`. No clocks, threads, I/O or global randomness.
public struct RaftReplica: Sendable {
    public let settings: RaftSettings
    public var id: ReplicaID { settings.id }

    public internal(set) var term: Term = 0
    public internal(set) var vote: ReplicaID = 0
    public internal(set) var leader: ReplicaID = 0
    public internal(set) var role: RaftRole = .follower
    /// The membership as of the applied index.
    public internal(set) var configuration: Configuration
    /// Index of the entry (or snapshot) that produced `configuration`.
    var configIndex: LogIndex = 0

    var log: RaftLog
    var progress: [ReplicaID: Progress] = [:]
    var votes: [ReplicaID: Bool] = [:]
    var messages: [Message] = []
    var readStates: [ReadState] = []
    var readOnly = ReadOnlyQueue()
    /// Read requests that arrived before the leader committed an entry of its term.
    var deferredReads: [Message] = []

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    public internal(set) var leadTransferee: ReplicaID = 0
    /// The leader may not propose a configuration change until this index is applied.
    var pendingConfIndex: LogIndex = 0

    var rng: SplitMix64
    /// The newest snapshot this replica holds (made locally or received); sent to followers
    /// that are behind the compacted log.
    public internal(set) var latestSnapshot: Snapshot?
    /// A received snapshot not yet handed out in a `Ready`.
    var receivedSnapshot: Snapshot?
    var prevHardState: HardState
    var prevSoftState: Ready.SoftState
    var readyInFlight: Ready?
    /// The term and vote known durable: recovered with the state, or reported by `persisted`.
    /// A leader sends its appends before its own write only while they are (see `ready`).
    var durableTerm: Term
    var durableVote: ReplicaID
    /// Readies handed out with `messagesAfterWrite` whose writes are not reported durable yet:
    /// while there are any, every message waits, so none overtakes them.
    var readiesWithMessagesWaiting = 0
    /// A broadcast of appends asked for since the last `ready()` (see `bcastAppend`).
    var bcastPending = false

    public init(settings: RaftSettings, state: PersistedState = PersistedState(), randomSeed: UInt64) {
        precondition(settings.id != 0, "replica id 0 is reserved")
        precondition(settings.heartbeatTicks < settings.electionTicks, "heartbeatTicks must be below electionTicks")
        self.settings = settings
        self.rng = SplitMix64(seed: randomSeed ^ (settings.id.rawValue &* 0x9E37_79B9_7F4A_7C15))
        let snapMeta = state.snapshot?.metadata
        let base = snapMeta?.index ?? 0
        // Keep only the contiguous run of entries right after the snapshot.
        var entries: [Entry] = []
        for e in state.entries where e.index > base {
            guard e.index == base + UInt64(entries.count) + 1 else { break }
            entries.append(e)
        }
        log = RaftLog(snapshotIndex: base, snapshotTerm: snapMeta?.term ?? 0, entries: entries,
                      committed: min(max(state.hardState.commit, base), base + UInt64(entries.count)))
        configuration = snapMeta?.configuration ?? Configuration()
        configIndex = base
        latestSnapshot = state.snapshot
        term = state.hardState.term
        vote = state.hardState.vote
        prevHardState = HardState(term: term, vote: vote, commit: log.committed)
        durableTerm = term
        durableVote = vote
        prevSoftState = Ready.SoftState(leader: 0, role: .follower)
        becomeFollower(term: term, leader: 0)
    }

    // MARK: - Status

    public var commitIndex: LogIndex { log.committed }
    public var appliedIndex: LogIndex { log.applied }
    public var lastIndex: LogIndex { log.lastIndex }
    public var firstIndex: LogIndex { log.firstIndex }
    public var persistedIndex: LogIndex { log.persisted }
    public func term(at index: LogIndex) -> Term? { log.term(at: index) }
    public func entries(from lo: LogIndex, through hi: LogIndex) -> [Entry] { log.slice(from: lo, through: hi) }
    /// The leader's view of a follower's matched index, or nil when not leader or unknown.
    public func matchIndex(of replica: ReplicaID) -> LogIndex? { progress[replica]?.match }
    /// Whether this replica may campaign: it is a voter of the current configuration.
    public var isPromotable: Bool { configuration.isVoter(id) }

    /// A planted bug's hook: constant false unless the build carries them (`PlantedBug.compiledIn`).
    @inline(__always) func isBug(_ bug: PlantedBug) -> Bool {
        #if MYSTORE_PLANTED_BUGS
        settings.plantedBugs.contains(bug)
        #else
        false
        #endif
    }

    // MARK: - Inputs

    /// Advances logical time by one tick.
    public mutating func tick() {
        switch role {
        case .leader: tickLeader()
        default: tickElection()
        }
    }

    /// Proposes application data. On a follower that knows the leader, the proposal is
    /// forwarded; the caller learns the outcome by seeing the entry applied.
    public mutating func propose(_ data: [UInt8]) -> Result<Void, RaftError> {
        var m = Message(kind: .propose, from: id)
        m.entries = [Entry(term: 0, index: 0, data: data)]
        return handlePropose(m)
    }

    /// Proposes a membership change. Only the leader accepts one, one at a time, and only when
    /// the resulting configuration still has a reachable quorum.
    public mutating func proposeConfChange(_ cc: ConfChange) -> Result<Void, RaftError> {
        guard role == .leader else { return .failure(.notLeader(leaderHint: leader)) }
        if pendingConfIndex > log.applied { return .failure(.confChangePending) }
        if leadTransferee != 0 { return .failure(.proposalDropped("leadership transfer in progress")) }
        let next: Configuration
        switch ConfChanger.apply(cc, to: configuration) {
        case .failure(let e): return .failure(e)
        case .success(let c): next = c
        }
        if !cc.isLeaveJoint {
            var healthy: Set<ReplicaID> = [id]
            for (pid, pr) in progress where isRecentlyActive(pr) && pr.match > 0 { healthy.insert(pid) }
            if !Quorum.isQuorum(next, healthy) {
                let down = next.allVoters.subtracting(healthy).sorted()
                return .failure(.wouldLoseQuorum("voters \(down) of the new configuration are unreachable or not caught up"))
            }
        }
        appendEntries([Entry(term: 0, index: 0, kind: .confChange, data: cc.encoded())])
        pendingConfIndex = log.lastIndex
        bcastAppend()
        return .success(())
    }

    /// Requests a linearizable read. `context` must be unique per request; the matching
    /// `ReadState` appears in a later `Ready` (possibly never, if leadership is lost).
    public mutating func readIndex(_ context: [UInt8]) -> Result<Void, RaftError> {
        var m = Message(kind: .readIndex, from: id)
        m.context = context
        if role == .leader {
            handleReadIndex(m)
            return .success(())
        }
        guard leader != 0 else { return .failure(.notLeader(leaderHint: 0)) }
        m.to = leader
        send(m)
        return .success(())
    }

    /// Hands leadership to `target` once it is caught up (TimeoutNow).
    public mutating func transferLeadership(to target: ReplicaID) {
        // As in etcd's MsgTransferLeader, `from` names the transferee.
        var m = Message(kind: .transferLeader, from: target)
        if role == .leader {
            handleTransferLeader(target)
        } else if leader != 0 {
            m.to = leader
            send(m)
        }
    }

    /// Records a snapshot of the state machine at the applied index; the host persists it.
    /// Call `compact(through:)` afterwards to drop log entries it covers.
    public mutating func createSnapshot(data: [UInt8]) -> Snapshot {
        let meta = SnapshotMetadata(index: log.applied, term: log.term(at: log.applied) ?? 0, configuration: configuration)
        let snap = Snapshot(metadata: meta, data: data)
        latestSnapshot = snap
        return snap
    }

    /// Records a snapshot the host wrote from an earlier applied state (taken off the host's
    /// thread): it becomes the snapshot sent to followers if it is newer than the current one.
    public mutating func recordSnapshot(_ metadata: SnapshotMetadata) {
        guard metadata.index > (latestSnapshot?.metadata.index ?? 0), metadata.index <= log.applied else { return }
        latestSnapshot = Snapshot(metadata: metadata, data: [])
    }

    /// Drops log entries up to `index` (bounded by what is applied, durable and snapshotted).
    public mutating func compact(through index: LogIndex) {
        log.compact(through: min(index, latestSnapshot?.metadata.index ?? 0))
    }

    /// Tells the leader the outcome of an out-of-band snapshot transfer to `replica`.
    public mutating func reportSnapshot(to replica: ReplicaID, success: Bool) {
        guard role == .leader, var pr = progress[replica], pr.state == .snapshot else { return }
        if !success {
            pr.pendingSnapshot = 0
            pr.becomeProbe()
            pr.probeSent = true
        }
        progress[replica] = pr
    }

    /// Tells the leader that messages to `replica` could not be delivered.
    public mutating func reportUnreachable(_ replica: ReplicaID) {
        guard role == .leader, var pr = progress[replica] else { return }
        if pr.state == .replicate { pr.becomeProbe() }
        progress[replica] = pr
    }

    // MARK: - Sending

    mutating func send(_ m: Message) {
        var m = m
        // A transfer request names its transferee in `from` (as etcd's MsgTransferLeader does).
        if m.kind != .transferLeader { m.from = id }
        if m.term == 0 {
            switch m.kind {
            case .propose, .readIndex, .transferLeader: break  // forwarded; carry no term
            default: m.term = term
            }
        }
        messages.append(m)
    }

    func isRecentlyActive(_ pr: Progress) -> Bool { pr.inactiveTicks < settings.electionTicks }

    /// Leader only: whether `replica` was heard from within the last election timeout.
    public func isRecentlyActive(_ replica: ReplicaID) -> Bool { progress[replica].map { isRecentlyActive($0) } ?? false }
}
