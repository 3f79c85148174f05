import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// Drives every Raft replica of one node from one thread: one ticker for all groups, one batch
/// of `Ready`s per loop iteration whose records go to the WAL writer thread as one round
/// (group commit across groups; rounds handed in during a sync share the next one), then
/// messages out, batched per destination node, then apply. The loop never waits for the disk:
/// what must follow a write (acknowledgements, votes) waits in `rounds` until the writer
/// reports it durable.
///
/// Inputs arrive from any thread through a mailbox; results leave through completion
/// closures, called on the host thread (they must hand off quickly).
public final class RaftHost: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<any Sendable, HostError>) -> Void
    public typealias ReadBody = @Sendable (any GroupStateMachine) -> any Sendable

    enum Input {
        case messages([(group: GroupID, message: Message)])
        /// A proposal, with the monotonic time it fails with `.timeout` if not applied by then.
        case propose(GroupID, [UInt8], deadline: Double, Completion)
        case read(GroupID, ReadBody, Completion)
        case transferLeadership(GroupID, ReplicaID)
        case confChange(GroupID, ConfChange, Completion)
        case snapshotReceived(GroupID, Message, String)
        case call(@Sendable (RaftHost) -> Void)
        /// The WAL writer made every round up to this sequence number durable.
        case durable(UInt64)
    }

    /// A round's writes on their way to disk, with what waits for them.
    struct PendingRound {
        var seq: UInt64
        var marks: [(group: GroupID, replica: ReplicaID, mark: DurableMark, hardState: HardState?)] = []
        var messages: [(group: HostedGroup, message: Message)] = []
        /// Groups with messages in `messages`: no leader of these sends early until they left.
        var waitingGroups: Set<GroupID> = []
    }

    final class HostedGroup {
        let id: GroupID
        var core: RaftReplica
        /// This node's replica id in the group (the core's, kept here to read without a copy).
        let replica: ReplicaID
        let stateMachine: any GroupStateMachine
        var nodeOf: [ReplicaID: NodeID]
        var lastSnapshotIndex: LogIndex
        /// Bytes of entries applied since the last snapshot (the byte trigger of compaction).
        var bytesSinceSnapshot: UInt64 = 0
        /// Uncompressed size of the state in the last snapshot written here (0: none yet).
        var lastSnapshotStateBytes: UInt64 = 0
        /// The hard state last made durable in the WAL (nil: unknown). A leader whose term and
        /// vote are durable sends its appends before its own write (see `processReady`).
        var durableHardState: HardState?
        /// The hard state last handed to the WAL writer.
        var writtenHardState = HardState()
        /// A hard state that differs from the written one only in its commit index: it needs no
        /// write of its own and goes with the next round that writes anything.
        var lazyHardState: HardState?
        var proposals: [UInt64: (completion: Completion, deadline: Double)] = [:]
        var reads: [UInt64: (body: ReadBody, completion: Completion, deadline: Double, index: LogIndex?)] = [:]
        /// Whether this replica has been a member of the group's configuration; once it was and
        /// an applied change removes it, the replica is destroyed.
        var wasMember = false
        /// Followers a snapshot is being streamed to right now.
        var snapshotsSending: Set<ReplicaID> = []
        /// A snapshot of this group is being written on another thread.
        var snapshotWriting = false
        /// The member lists last published in the group's status, and the configuration's index.
        var statusMembers: (configIndex: LogIndex, voters: [ReplicaID], learners: [ReplicaID])?

        init(id: GroupID, core: RaftReplica, stateMachine: any GroupStateMachine, nodeOf: [ReplicaID: NodeID], lastSnapshotIndex: LogIndex) {
            self.id = id
            self.core = core
            self.replica = core.id
            self.stateMachine = stateMachine
            self.nodeOf = nodeOf
            self.lastSnapshotIndex = lastSnapshotIndex
        }
    }

    public let node: NodeID
    public let settings: HostSettings
    let wal: WriteAheadLog
    /// The thread that writes and syncs the WAL; every use of `wal` after start goes through it.
    private(set) var writer: WALWriter!
    /// Rounds handed to the writer and not yet durable, oldest first.
    var rounds: [PendingRound] = []
    /// Records that need not be durable soon (commit-only hard states, compaction points):
    /// written with the next round that writes anything, or on a tick when idle.
    var lazyRecords: [WALRecord] = []
    var lazyGroups: Set<GroupID> = []
    let snapshotDirectory: String
    let transport: any RaftTransport
    var groups: [GroupID: HostedGroup] = [:]
    private let mailbox = Mutex<[Input]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(false)
    private let statusBox = Mutex<[GroupID: GroupStatus]>([:])
    /// What the host thread did (host thread only), published to `activityBox` every tick.
    var activity = HostActivity()
    private let activityBox = Mutex(HostActivity())
    /// Proposal and read ids. Random start: entries proposed by an earlier run of this node
    /// are still applied after a restart and must never match a new request's id.
    private var nextID = UInt64.random(in: 1...(UInt64.max >> 1))
    /// Notes for the node's log (storage repairs, dropped snapshots); drained by `takeNotes`.
    private let notes = Mutex<[String]>([])
    /// Groups whose replica here was removed, with the removed replica's id: messages to that
    /// id (or an older one) never bring the group back.
    var tombstones: [GroupID: ReplicaID] = [:]
    /// Snapshot transfers this node is sending.
    var snapshotSends = 0
    /// Snapshots being written on threads of their own.
    var snapshotWrites = 0
    /// Asked on the host thread when a leader contacts a replica this node does not host
    /// (a replica being added to a group): the state machine to host it with, or nil to ignore.
    public var groupFactory: (@Sendable (GroupID) -> (any GroupStateMachine)?)?
    /// Where the host loop runs: nil for a thread of its own, or an executor (an event loop)
    /// whose thread then does the host's work between its other tasks. Set before `start`.
    public var executor: (any HostExecutor)?
    /// The executor's tick timer (executor mode), cancelled by `stop`.
    private var cancelTicks: (@Sendable () -> Void)?
    /// The next tick's time (host thread only).
    private var nextTick = 0.0
    /// Held by each pass in executor mode, so `stop` can wait for the one running.
    private let passLock = Mutex(())

    public init(node: NodeID, settings: HostSettings, wal: WriteAheadLog, snapshotDirectory: String, transport: any RaftTransport) {
        self.node = node
        self.settings = settings
        self.wal = wal
        self.snapshotDirectory = snapshotDirectory
        self.transport = transport
        writer = WALWriter(wal: wal, onDurable: { [weak self] seq in self?.submit(.durable(seq)) })
        // Leftovers of snapshots being written or received when the node stopped.
        for name in (try? FileSystem.list(snapshotDirectory)) ?? [] where name.hasSuffix(".tmp") || name.hasSuffix(".recv") {
            try? FileSystem.remove(snapshotDirectory + "/" + name)
        }
    }

    // MARK: - Setup (before start)

    /// Hosts a replica of `group`: recovers it from the WAL and its newest snapshot file, or
    /// bootstraps it with `bootstrapVoters` when nothing is stored. `nodeOf` maps the group's
    /// replica ids to nodes.
    public func addGroup(_ group: GroupID, replica: ReplicaID, stateMachine: any GroupStateMachine,
                         nodeOf: [ReplicaID: NodeID], bootstrapVoters: [ReplicaID]) throws(StorageError) {
        var state: PersistedState
        var snapIndex: LogIndex = 0
        if let recovered = try writer.withWAL({ wal throws(StorageError) in wal.recovered[group] }) {
            state = PersistedState(hardState: recovered.hardState, entries: recovered.entries)
            if let path = try newestSnapshot(of: group) {
                let reader = try SnapshotReader(path: path)
                do {
                    try stateMachine.restore(from: { () throws(StorageError) -> [UInt8]? in try reader.nextChunk() })
                } catch {
                    throw StorageError(path: path, reason: "cannot restore the state machine: \(error)")
                }
                state.snapshot = Snapshot(metadata: reader.metadata, data: [])
                snapIndex = reader.metadata.index
            }
        } else if bootstrapVoters.isEmpty {
            // A replica joining an existing group: empty until the leader sends it the log or
            // a snapshot.
            state = PersistedState()
        } else {
            state = .bootstrap(voters: bootstrapVoters)
            let boot = state
            try writer.withWAL { wal throws(StorageError) in
                try wal.append([.entries(group: group, entries: boot.entries), .hardState(group: group, state: boot.hardState)])
            }
        }
        var s = settings.raft
        s.id = replica
        let core = RaftReplica(settings: s, state: state, randomSeed: UInt64(truncatingIfNeeded: monotonicNanos()) ^ group)
        let g = HostedGroup(id: group, core: core, stateMachine: stateMachine, nodeOf: nodeOf, lastSnapshotIndex: snapIndex)
        g.wasMember = core.configuration.members.contains(replica)
        g.durableHardState = state.hardState
        g.writtenHardState = state.hardState
        groups[group] = g
    }

    /// The replica id this node uses in `group`, as recorded when the replica was created
    /// by a leader's message (nil for bootstrap replicas, whose id is the node id).
    public func storedReplicaID(of group: GroupID) -> ReplicaID? {
        guard let f = try? DurableFile(path: replicaFile(group), mode: .readOnly), let bytes = try? f.readAll() else { return nil }
        return ReplicaID(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? "")
    }

    func replicaFile(_ group: GroupID) -> String { snapshotDirectory + "/replica-\(SnapshotFormat.hex(group))" }

    func newestSnapshot(of group: GroupID) throws(StorageError) -> String? {
        guard FileSystem.exists(snapshotDirectory) else { return nil }
        let prefix = "snap-\(SnapshotFormat.hex(group))-"
        return try FileSystem.list(snapshotDirectory).filter { $0.hasPrefix(prefix) && $0.hasSuffix(".snap") }.last
            .map { snapshotDirectory + "/" + $0 }
    }

    // MARK: - Running

    public func start() {
        // Set up before `running`: once it is set, a pass may run on the executor's thread at
        // any moment (inputs that came earlier wait in the mailbox for the pass queued below).
        for g in groups.values { publishStatus(g) }
        writer.start()
        nextTick = monotonicSeconds() + Double(settings.tickMillis) / 1000
        running.store(true, ordering: .sequentiallyConsistent)
        if let executor {
            cancelTicks = executor.repeatEvery(milliseconds: settings.tickMillis) { [self] in runPass() }
            executor.execute { [self] in runPass() }
        } else {
            Thread.detach(name: "raft-host") { [self] in loop() }
        }
    }

    public func stop() {
        guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
        if let executor {
            cancelTicks?()
            // A pass running now finishes before this returns (unless this is that thread);
            // later ones see `running` false. Waiting needs no task on the executor.
            if !executor.inExecutor { passLock.withLock { _ in } }
        } else {
            wake.signal()
            stopped.wait()
        }
        writer.stop()
    }

    private func submit(_ input: Input) {
        let first = mailbox.withLock { box in
            box.append(input)
            return box.count == 1
        }
        guard first else { return }
        if let executor {
            executor.execute { [self] in runPass() }
        } else {
            wake.signal()
        }
    }

    // MARK: - Inputs (any thread)

    public func receive(_ batch: [(group: GroupID, message: Message)]) { submit(.messages(batch)) }

    /// Proposes `payload` to `group`; completes with the state machine's result once applied
    /// here, or with an error (not the leader, timeout after `timeoutMillis`, by default the
    /// host's `requestTimeoutMillis`).
    public func propose(_ group: GroupID, _ payload: [UInt8], timeoutMillis: Int64? = nil, completion: @escaping Completion) {
        let deadline = monotonicSeconds() + Double(timeoutMillis ?? Int64(settings.requestTimeoutMillis)) / 1000
        submit(.propose(group, payload, deadline: deadline, completion))
    }

    /// Runs `body` against the group's state machine once a linearizable read is confirmed
    /// (ReadIndex) and applied here.
    public func read(_ group: GroupID, _ body: @escaping ReadBody, completion: @escaping Completion) {
        submit(.read(group, body, completion))
    }

    public func transferLeadership(_ group: GroupID, to replica: ReplicaID) { submit(.transferLeadership(group, replica)) }

    /// Proposes a membership change of `group`; completes once the leader accepted it into
    /// its log (the caller watches the configuration for the outcome).
    public func proposeConfChange(_ group: GroupID, _ change: ConfChange, completion: @escaping Completion) {
        submit(.confChange(group, change, completion))
    }

    /// A snapshot file received and verified by the transport for `message` (which carries
    /// no data); the host moves it into place and hands the message to the group.
    public func receiveSnapshot(group: GroupID, message: Message, file: String) {
        submit(.snapshotReceived(group, message, file))
    }

    /// Hands leadership of `group` to `replica` if this replica leads and `replica` has every
    /// entry right now, so the hand-over is immediate and never waits on a lagging replica.
    public func transferLeadershipIfCaughtUp(_ group: GroupID, to replica: ReplicaID) {
        call { host in
            guard let g = host.groups[group], g.core.role == .leader, g.core.leadTransferee == 0,
                  g.core.matchIndex(of: replica) == g.core.lastIndex else { return }
            g.core.transferLeadership(to: replica)
        }
    }

    /// Runs `body` on the host thread.
    public func call(_ body: @escaping @Sendable (RaftHost) -> Void) { submit(.call(body)) }

    /// The latest status of every hosted replica (updated by the host thread).
    public func status() -> [GroupStatus] { statusBox.withLock { Array($0.values) }.sorted { $0.group < $1.group } }

    public func status(of group: GroupID) -> GroupStatus? { statusBox.withLock { $0[group] } }

    func forgetStatus(_ group: GroupID) { statusBox.withLock { $0[group] = nil } }

    /// Counts of the host's work (rounds, readies, messages), as of its last tick.
    public func activitySnapshot() -> HostActivity { activityBox.withLock { $0 } }

    /// Hands a batch of Raft messages for one node to the transport.
    func send(_ batch: [(group: GroupID, message: Message)], to node: NodeID) {
        activity.sent(batch)
        transport.send(batch, to: node)
    }

    public func takeNotes() -> [String] { notes.withLock { n in defer { n = [] }; return n } }

    public func note(_ s: String) { notes.withLock { $0.append(s) } }

    // MARK: - The loop

    /// The host's own thread: passes until stopped, sleeping while there is nothing to do.
    private func loop() {
        while running.load(ordering: .sequentiallyConsistent) {
            if !pass() {
                let wait = max(0, nextTick - monotonicSeconds())
                _ = wake.wait(timeout: .now() + .nanoseconds(Int(wait * 1e9)))
            }
        }
        stopped.signal()
    }

    /// Executor mode: one pass, and another one queued behind the executor's other work
    /// while there is more to do (new inputs queue their own).
    private func runPass() {
        let more = passLock.withLock { _ in running.load(ordering: .sequentiallyConsistent) && pass() }
        if more && !mailbox.withLock({ !$0.isEmpty }) {
            executor?.execute { [self] in runPass() }
        }
    }

    /// One iteration of the host loop: inputs, the tick when due, one round. Returns whether
    /// there is more to do right away.
    private func pass() -> Bool {
        let inputs = mailbox.withLock { box in defer { box = [] }; return box }
        for input in inputs { handle(input) }
        let t = monotonicSeconds()
        if t >= nextTick {
            nextTick += Double(settings.tickMillis) / 1000
            if nextTick < t { nextTick = t + Double(settings.tickMillis) / 1000 }
            for g in groups.values { g.core.tick() }
            expireRequests(now: t)
            let a = activity
            activityBox.withLock { $0 = a }
            if rounds.isEmpty && (!lazyRecords.isEmpty || !lazyGroups.isEmpty) {
                // Idle: write what was waiting for company.
                _ = writer.submit(takeLazyRecords())
            }
        }
        processReady()
        return mailbox.withLock { !$0.isEmpty } || groups.values.contains { $0.core.pollReady() }
    }

    private func handle(_ input: Input) {
        switch input {
        case .messages(let batch):
            activity.messagesReceived += UInt64(batch.count)
            for (gid, m) in batch {
                guard let g = groups[gid] ?? createGroup(gid, for: m) else { continue }
                if m.kind == .snapshot && !acceptSnapshotFile(g, m) { continue }
                g.core.step(m)
            }
        case .snapshotReceived(let gid, let m, let file):
            guard let g = groups[gid] ?? createGroup(gid, for: m), installReceivedFile(g, m, file) else {
                try? FileSystem.remove(file)
                return
            }
            g.core.step(m)
        case .confChange(let gid, let change, let completion):
            guard let g = groups[gid] else { return completion(.failure(.unknownGroup(gid))) }
            switch g.core.proposeConfChange(change) {
            case .success: completion(.success(g.core.lastIndex))
            case .failure(let e): completion(.failure(.dropped(e.description)))
            }
        case .propose(let gid, let payload, let deadline, let completion):
            guard let g = groups[gid] else { return completion(.failure(.unknownGroup(gid))) }
            guard g.core.role == .leader else { return completion(.failure(.notLeader(leaderNode(g)))) }
            let id = nextID
            nextID += 1
            var w = BinaryWriter(capacity: payload.count + 16)
            w.write(node)
            w.write(id)
            w.write(payload)
            switch g.core.propose(w.bytes) {
            case .success:
                g.proposals[id] = (completion, deadline)
            case .failure(let e):
                completion(.failure(.dropped(e.description)))
            }
        case .read(let gid, let body, let completion):
            guard let g = groups[gid] else { return completion(.failure(.unknownGroup(gid))) }
            let id = nextID
            nextID += 1
            var ctx = BinaryWriter()
            ctx.write(id)
            switch g.core.readIndex(ctx.bytes) {
            case .success:
                g.reads[id] = (body, completion, monotonicSeconds() + Double(settings.requestTimeoutMillis) / 1000, nil)
            case .failure:
                completion(.failure(.notLeader(leaderNode(g))))
            }
        case .transferLeadership(let gid, let replica):
            groups[gid]?.core.transferLeadership(to: replica)
        case .call(let body):
            body(self)
        case .durable(let seq):
            completeRounds(through: seq)
        }
    }

    func leaderNode(_ g: HostedGroup) -> NodeID? {
        g.core.leader == 0 ? nil : nodeOf(g, g.core.leader)
    }

    func nodeOf(_ g: HostedGroup, _ replica: ReplicaID) -> NodeID { g.nodeOf[replica] ?? ReplicaIDs.node(of: replica) }

    private func expireRequests(now t: Double) {
        for g in groups.values {
            for (id, p) in g.proposals where p.deadline <= t {
                g.proposals[id] = nil
                p.completion(.failure(.timeout))
            }
            for (id, r) in g.reads where r.deadline <= t {
                g.reads[id] = nil
                r.completion(.failure(.timeout))
            }
        }
    }

    /// One round of group commit: every group's Ready handed to the WAL writer as one batch
    /// of records, messages sent (or queued behind the write), entries applied.
    ///
    /// What does not wait for this round's write:
    /// - Entries in `committedEntries` are committed, i.e. durable on a quorum (a leader counts
    ///   itself only once its own write is durable, see `RaftReplica.persisted`), so they are
    ///   applied and their clients answered at once, even before this node's copy is durable.
    /// - A leader whose term and vote are durable sends its appends and heartbeats at once:
    ///   followers persist in parallel with the leader's own write (Raft thesis §10.2.1).
    /// Every other message (votes, acknowledgements, snapshots) waits until the writer reports
    /// the round durable (`completeRounds`), and so does the core's knowledge of what is
    /// durable. A round with a received snapshot waits for its write before installing it.
    private func processReady() {
        var readies: [(HostedGroup, Ready)] = []
        var records: [WALRecord] = []
        var early: [NodeID: [(group: GroupID, message: Message)]] = [:]
        var round = PendingRound(seq: 0)
        var hasSnapshot = false
        for gid in groups.keys.sorted() {
            let g = groups[gid]!
            guard g.core.pollReady() else { continue }
            var rd = g.core.ready()
            let wroteHardState = appendRecords(g, rd, into: &records)
            if rd.snapshot != nil { hasSnapshot = true }
            if g.core.role == .leader, rd.snapshot == nil, let durable = g.durableHardState,
               durable.term == g.core.term, durable.vote == g.core.vote,
               !rounds.contains(where: { $0.waitingGroups.contains(gid) }) {
                rd.messages.removeAll { m in
                    guard m.kind == .append || m.kind == .heartbeat else { return false }
                    early[nodeOf(g, m.to), default: []].append((g.id, m))
                    return true
                }
            }
            let mark = rd.durableMark
            if !mark.isEmpty || wroteHardState {
                round.marks.append((gid, g.replica, mark, wroteHardState ? rd.hardState : nil))
            }
            if !rd.messages.isEmpty {
                round.waitingGroups.insert(gid)
                for m in rd.messages { round.messages.append((g, m)) }
            }
            readies.append((g, rd))
        }
        guard !readies.isEmpty else { return }
        activity.rounds += 1
        activity.readies += UInt64(readies.count)
        for (dest, batch) in early { send(batch, to: dest) }
        if !records.isEmpty {
            records.append(contentsOf: takeLazyRecords())
            round.seq = writer.submit(records)
            rounds.append(round)
        } else if !rounds.isEmpty {
            // Nothing to write: keep the order of what waits behind the writes in flight.
            rounds[rounds.count - 1].marks.append(contentsOf: round.marks)
            rounds[rounds.count - 1].messages.append(contentsOf: round.messages)
            rounds[rounds.count - 1].waitingGroups.formUnion(round.waitingGroups)
        } else {
            complete(round)
        }
        if hasSnapshot, let last = rounds.last?.seq {
            writer.wait(for: last)
            completeRounds(through: last)
        }
        for (g, rd) in readies where rd.snapshot == nil { apply(g, rd.committedEntries) }
        for (g, rd) in readies {
            if let snap = rd.snapshot {
                installSnapshot(g, snap)
                apply(g, rd.committedEntries)
            }
            for rs in rd.readStates {
                var r = BinaryReader(rs.context)
                if let id = try? r.readUInt64(), g.reads[id] != nil { g.reads[id]!.index = rs.index }
            }
            if rd.softState != nil && g.core.role != .leader {
                // Lost leadership: pending proposals are in the log and may still commit
                // under the new leader, or be overwritten; this node no longer learns which.
                for (_, p) in g.proposals { p.completion(.failure(.outcomeUnknown("leadership lost"))) }
                g.proposals = [:]
            }
            if rd.softState != nil {
                // The leader changed: a read still waiting for its ReadIndex asked a leader that
                // will never answer it; let the caller retry (a read with its index keeps waiting
                // for the apply).
                for (id, r) in g.reads where r.index == nil {
                    g.reads[id] = nil
                    r.completion(.failure(.notLeader(leaderNode(g))))
                }
            }
            g.core.advance(rd)
            serveReads(g)
            maybeSnapshot(g)
            publishStatus(g)
            if g.core.configuration.isMember(g.replica) {
                g.wasMember = true
            } else if g.wasMember {
                destroy(g, reason: "removed from the group's configuration")
            }
        }
        // Wait a little for the write: requests arriving meanwhile share the next round. Never
        // on an executor's thread, which has other work to do meanwhile.
        if executor == nil, settings.walWaitMicros > 0, let last = rounds.last?.seq {
            if writer.wait(for: last, timeout: .now() + .microseconds(settings.walWaitMicros)) {
                completeRounds(through: last)
            }
        }
    }

    /// Adds the WAL records of one Ready to `records`; returns whether its hard state is among
    /// them. A hard state whose term and vote were already written waits as a lazy record
    /// unless the Ready writes entries anyway: a commit index need not be durable (a restarted
    /// replica relearns it from the leader), so it never costs an fdatasync of its own.
    private func appendRecords(_ g: HostedGroup, _ rd: Ready, into records: inout [WALRecord]) -> Bool {
        var toWrite = rd
        if let hs = rd.hardState {
            let written = g.writtenHardState
            if rd.entries.isEmpty && rd.snapshot == nil && hs.term == written.term && hs.vote == written.vote {
                g.lazyHardState = hs
                lazyGroups.insert(g.id)
                toWrite.hardState = nil
            } else {
                g.writtenHardState = hs
                g.lazyHardState = nil
            }
        }
        records.append(contentsOf: RecoveredGroup.records(for: g.id, ready: toWrite))
        return toWrite.hardState != nil
    }

    /// The lazy records, and every group's lazy hard state, for the next write.
    func takeLazyRecords() -> [WALRecord] {
        var out = lazyRecords
        lazyRecords = []
        for gid in lazyGroups.sorted() {
            guard let g = groups[gid], let hs = g.lazyHardState else { continue }
            out.append(.hardState(group: gid, state: hs))
            g.writtenHardState = hs
            g.lazyHardState = nil
        }
        lazyGroups = []
        return out
    }

    /// The writer made every round through `seq` durable.
    func completeRounds(through seq: UInt64) {
        while let first = rounds.first, first.seq <= seq {
            rounds.removeFirst()
            complete(first)
        }
    }

    /// A round is durable: the cores learn it and the messages that waited for it go out.
    private func complete(_ round: PendingRound) {
        for m in round.marks {
            guard let g = groups[m.group], g.replica == m.replica else { continue }
            if let hs = m.hardState { g.durableHardState = hs }
            g.core.persisted(m.mark)
        }
        guard !round.messages.isEmpty else { return }
        var outbox: [NodeID: [(group: GroupID, message: Message)]] = [:]
        for (g, m) in round.messages {
            let dest = nodeOf(g, m.to)
            if m.kind == .snapshot {
                sendSnapshot(g, m, to: dest)
                continue
            }
            outbox[dest, default: []].append((g.id, m))
        }
        for (dest, batch) in outbox { send(batch, to: dest) }
    }

    private func apply(_ g: HostedGroup, _ entries: [Entry]) {
        for e in entries { g.bytesSinceSnapshot += UInt64(e.data.count) }
        for e in entries where e.kind == .normal && e.data.count >= 16 {
            var r = BinaryReader(e.data)
            guard let origin = try? r.readUInt64(), let id = try? r.readUInt64() else { continue }
            let result = g.stateMachine.apply(index: e.index, data: Array(e.data[16...]))
            if origin == node, let p = g.proposals.removeValue(forKey: id) {
                p.completion(.success(result))
            }
        }
    }

    private func serveReads(_ g: HostedGroup) {
        guard !g.reads.isEmpty else { return }
        let applied = g.core.watermarks().applied
        for (id, r) in g.reads {
            guard let index = r.index, index <= applied else { continue }
            g.reads[id] = nil
            r.completion(.success(r.body(g.stateMachine)))
        }
    }

    func publishStatus(_ g: HostedGroup) {
        // The sorted member lists change only with the configuration: computed once per change.
        if g.statusMembers == nil || g.statusMembers!.configIndex != g.core.configIndex {
            g.statusMembers = (g.core.configIndex, g.core.configuration.voters.sorted(), g.core.configuration.learners.sorted())
        }
        let w = g.core.watermarks()
        let st = GroupStatus(group: g.id, replica: g.replica, role: g.core.role, leaderNode: leaderNode(g), term: g.core.term,
                             commitIndex: w.commit, appliedIndex: w.applied, lastIndex: w.last,
                             voters: g.statusMembers!.voters, learners: g.statusMembers!.learners)
        statusBox.withLock { $0[g.id] = st }
    }
}

/// Stops the process: used only when continuing would acknowledge what is not durable.
func stopNode(_ message: String) -> Never {
    let line = "mystore-server: fatal: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(3)
}


extension RaftHost {
    /// Runs `body` against the group's state machine now, without confirming leadership:
    /// a possibly stale read, for connections that asked for one (READONLY).
    public func readLocal(_ group: GroupID, _ body: @escaping ReadBody, completion: @escaping Completion) {
        call { host in
            guard let g = host.groups[group] else { return completion(.failure(.unknownGroup(group))) }
            completion(.success(body(g.stateMachine)))
        }
    }
}
