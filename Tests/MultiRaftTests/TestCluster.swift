@testable import MultiRaft

/// A tiny deterministic harness for scenario tests: replicas of one group, a message queue,
/// links that can be cut, and `stabilize()` that runs the host loop (persist, send, apply,
/// advance) and delivers messages until nothing moves.
struct TestCluster {
    struct Member {
        var core: RaftReplica
        var stored = PersistedState()
        /// Application payloads applied, in order (no-ops and conf changes excluded).
        var applied: [String] = []
        var readStates: [ReadState] = []
    }

    var members: [ReplicaID: Member] = [:]
    var inbox: [Message] = []
    /// Directed links that lose every message: (from, to).
    var cut: Set<[ReplicaID]> = []
    var down: Set<ReplicaID> = []
    var settings: (inout RaftSettings) -> Void
    /// Every message delivered, for assertions about what was sent.
    var delivered: [Message] = []

    init(voters: [ReplicaID], settings: @escaping (inout RaftSettings) -> Void = { _ in }) {
        self.settings = settings
        for id in voters {
            add(id, state: .bootstrap(voters: voters))
        }
        stabilize()  // apply the bootstrap configuration
    }

    mutating func add(_ id: ReplicaID, state: PersistedState = PersistedState()) {
        var s = RaftSettings(id: id)
        settings(&s)
        members[id] = Member(core: RaftReplica(settings: s, state: state, randomSeed: id.rawValue), stored: state)
    }

    subscript(_ id: ReplicaID) -> RaftReplica { members[id]!.core }

    func member(_ id: ReplicaID) -> Member { members[id]! }

    var leaders: [ReplicaID] { members.filter { $0.value.core.role == .leader && !down.contains($0.key) }.keys.sorted() }

    /// Runs the host loop on every replica once; returns whether anything happened.
    mutating func processReady() -> Bool {
        var any = false
        for id in members.keys.sorted() where !down.contains(id) {
            var m = members[id]!
            guard m.core.hasReady else { continue }
            any = true
            let rd = m.core.ready()
            if let snap = rd.snapshot {
                m.stored.snapshot = snap
                m.stored.entries = []
                m.applied = ["<snapshot \(snap.metadata.index)>"]
            }
            if let first = rd.entries.first?.index {
                m.stored.entries.removeAll { $0.index >= first }
                m.stored.entries.append(contentsOf: rd.entries)
            }
            if let hs = rd.hardState { m.stored.hardState = hs }
            inbox.append(contentsOf: rd.messages + rd.messagesAfterWrite)
            for e in rd.committedEntries where e.kind == .normal && !e.data.isEmpty {
                m.applied.append(String(decoding: e.data, as: UTF8.self))
            }
            m.readStates.append(contentsOf: rd.readStates)
            m.core.advance(rd)
            m.core.persisted(rd.durableMark)
            members[id] = m
        }
        return any
    }

    /// Delivers every queued message whose link is up; returns how many were delivered.
    @discardableResult
    mutating func deliver() -> Int {
        let batch = inbox
        inbox = []
        var n = 0
        for m in batch {
            guard members[m.to] != nil, !down.contains(m.to), !down.contains(m.from), !cut.contains([m.from, m.to]) else { continue }
            members[m.to]!.core.step(m)
            delivered.append(m)
            n += 1
        }
        return n
    }

    /// Alternates host loops and deliveries until the cluster is quiet (bounded).
    mutating func stabilize() {
        for _ in 0..<1_000 {
            let worked = processReady()
            if deliver() == 0 && !worked && inbox.isEmpty { return }
        }
        fatalError("cluster did not stabilize in 1,000 rounds")
    }

    mutating func tick(_ id: ReplicaID, times: Int = 1) {
        for _ in 0..<times { members[id]!.core.tick() }
    }

    /// Ticks every live replica `times` times, stabilizing after each tick.
    mutating func tickAll(_ times: Int) {
        for _ in 0..<times {
            for id in members.keys.sorted() where !down.contains(id) { members[id]!.core.tick() }
            stabilize()
        }
    }

    /// Makes `id` campaign now (as if its election timeout fired) and runs to quiet.
    mutating func campaign(_ id: ReplicaID) {
        members[id]!.core.campaign(preVote: members[id]!.core.settings.preVote, transfer: false)
        stabilize()
    }

    mutating func propose(_ id: ReplicaID, _ text: String) -> Result<Void, RaftError> {
        let r = members[id]!.core.propose(Array(text.utf8))
        stabilize()
        return r
    }

    mutating func isolate(_ id: ReplicaID) {
        for other in members.keys where other != id {
            cut.insert([id, other])
            cut.insert([other, id])
        }
    }

    mutating func heal() { cut = [] }

    /// Simulates a crash and restart: everything not persisted is lost.
    mutating func restart(_ id: ReplicaID) {
        let stored = members[id]!.stored
        var s = RaftSettings(id: id)
        settings(&s)
        members[id]!.core = RaftReplica(settings: s, state: stored, randomSeed: id.rawValue &+ 99)
        members[id]!.applied = stored.snapshot.map { ["<snapshot \($0.metadata.index)>"] } ?? []
    }
}

extension Result where Success == Void {
    /// The error, or nil on success (Void results are not Equatable).
    var error: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
