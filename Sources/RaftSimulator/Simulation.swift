import MultiRaft

/// A whole cluster in one thread: nodes hosting replicas of several groups, a network that
/// drops, duplicates, delays and reorders, partitions, crashes and restarts, clients that write
/// and read, and membership changes, all driven by one seed. After every step the safety
/// checkers run; the first violation ends the run.
public final class Simulation {
    enum Event {
        case tick
        case deliver(node: Int, group: Int, message: Message)
        case process(node: Int)
        /// The node's WAL writer finishes: everything handed to storage so far is durable.
        case sync(node: Int)
        case crash
        case restart(node: Int)
        case partition
        case heal
        case clientWrite
        case clientRead
        case membership(group: Int)
        case transfer(group: Int)
        case destroy(group: Int, replica: ReplicaID)
    }

    let opts: SimulationOptions
    var rng: SplitMix64
    var queue = EventQueue<Event>()
    var now = 0
    public internal(set) var stats = SimulationStats()
    var nodes: [SimNode] = []
    var groups: [SimGroup] = []
    /// blocked[a][b]: messages from node a to node b are lost.
    var blocked: [[Bool]]
    var nextOp: UInt64 = 1
    var pendingWrites: [UInt64: (group: Int, replica: ReplicaID)] = [:]
    var ackedWrites: [(group: Int, op: UInt64, index: LogIndex)] = []
    var violation: Violation?

    // Shape of this seed's faults, drawn once.
    let dropRate: Double
    let duplicateRate: Double
    let maxDelay: Int
    let compactAfter: Int
    let keepTrailing: UInt64
    let settingsTemplate: RaftSettings

    static let tickLength = 10
    var faultEnd: Int { opts.ticks * Self.tickLength }
    var end: Int { (opts.ticks + opts.quietTicks) * Self.tickLength }

    public init(options: SimulationOptions) {
        opts = options
        rng = SplitMix64(seed: options.seed &* 0x2545_F491_4F6C_DD1D &+ 1)
        let nodeCount = options.nodes + 1
        blocked = Array(repeating: Array(repeating: false, count: nodeCount), count: nodeCount)
        var r = SplitMix64(seed: options.seed)
        dropRate = Double(r.next() % 16) / 100
        duplicateRate = Double(r.next() % 6) / 100
        maxDelay = 2 + Int(r.next() % 30)
        compactAfter = 8 + Int(r.next() % 120)
        keepTrailing = r.next() % 8
        var s = RaftSettings(id: 1)
        s.electionTicks = 10
        s.heartbeatTicks = 1 + Int(r.next() % 3)
        s.maxSizePerMsg = r.next() % 3 == 0 ? 1 : 1 << 12  // 1 byte = one entry per message
        s.maxInflightMsgs = [1, 4, 64][Int(r.next() % 3)]
        s.snapshotTimeoutTicks = 30
        s.plantedBugs = options.plantedBugs
        settingsTemplate = s

        for n in 0..<nodeCount { nodes.append(SimNode(index: n)) }
        let founders = (1...UInt64(options.nodes)).map(ReplicaID.init(rawValue:))
        for g in 0..<options.groups {
            let group = SimGroup(index: g, nextReplicaID: ReplicaID(options.nodes + 1))
            groups.append(group)
            // Spread groups: group g's founders skip node (g mod nodeCount).
            let hosts = (0..<nodeCount).filter { $0 != (g + options.nodes) % nodeCount }
            for (k, id) in founders.enumerated() {
                let rep = SimReplica(group: g, id: id)
                let boot = PersistedState.bootstrap(voters: founders)
                rep.storage.persist([.entries(group: SimStorage.group, entries: boot.entries),
                                     .hardState(group: SimStorage.group, state: boot.hardState)])
                shadowDurable(rep, boot.entries)
                rep.core = makeCore(rep)
                rep.alive = true
                nodes[hosts[k]].replicas[g] = rep
                group.nodeOf[id] = hosts[k]
            }
        }
    }

    func makeCore(_ rep: SimReplica) -> RaftReplica {
        var s = settingsTemplate
        s.id = rep.id
        let state = rep.storage.persistedState
        return RaftReplica(settings: s, state: state, randomSeed: rng.next())
    }

    func random(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    func chance(_ p: Double) -> Bool { Double(rng.next() % 1_000_000) / 1_000_000 < p }

    // MARK: - Running

    /// Runs to the end or to the first violation.
    public func run() -> Result<SimulationStats, Violation> {
        queue.schedule(.tick, at: 0)
        queue.schedule(.clientWrite, at: 5)
        queue.schedule(.clientRead, at: 7)
        queue.schedule(.crash, at: 200 + random(400))
        queue.schedule(.partition, at: 300 + random(400))
        for g in groups.indices {
            queue.schedule(.membership(group: g), at: 400 + random(800))
            queue.schedule(.transfer(group: g), at: 1000 + random(2000))
        }
        queue.schedule(.heal, at: faultEnd)
        while let (t, event) = queue.pop(), t <= end {
            now = t
            stats.steps += 1
            handle(event)
            if let v = violation { return .failure(v) }
        }
        finalChecks()
        if let v = violation { return .failure(v) }
        return .success(stats)
    }

    func fail(_ invariant: String, _ detail: String) {
        if violation == nil {
            violation = Violation(seed: opts.seed, step: stats.steps, time: now, invariant: invariant, detail: detail)
        }
    }

    func check(_ message: String?) {
        guard let m = message else { return }
        let parts = m.split(separator: ":", maxSplits: 1)
        fail(String(parts[0]), parts.count > 1 ? String(parts[1]).trimmingPrefixSpace() : m)
    }

    func log(_ s: @autoclosure () -> String) {
        if opts.verbose { print("[t=\(now)] \(s())") }
    }

    func handle(_ event: Event) {
        let faulting = now < faultEnd
        switch event {
        case .tick:
            for node in nodes where node.up {
                for g in node.replicas.keys.sorted() { if node.replicas[g]!.alive { node.replicas[g]!.core.tick() } }
                scheduleProcess(node)
            }
            queue.schedule(.tick, at: now + Self.tickLength)
        case .deliver(let n, let g, let m):
            let node = nodes[n]
            guard node.up, let rep = node.replicas[g], rep.id == m.to, rep.alive else { return }
            stats.messagesDelivered += 1
            rep.core.step(m)
            scheduleProcess(node)
        case .process(let n):
            let node = nodes[n]
            node.processScheduled = false
            if node.up { process(node) }
        case .sync(let n):
            let node = nodes[n]
            node.syncScheduled = false
            if node.up { sync(node) }
        case .crash:
            if faulting {
                let up = nodes.filter(\.up)
                // Keep at least one node up; more than a minority down is allowed (it only
                // costs availability).
                if up.count > 1 {
                    let victim = up[random(up.count)]
                    crash(victim)
                    queue.schedule(.restart(node: victim.index), at: now + 20 + random(600))
                }
                queue.schedule(.crash, at: now + 100 + random(700))
            }
        case .restart(let n):
            restart(nodes[n])
        case .partition:
            if faulting {
                partition()
                queue.schedule(.partition, at: now + 200 + random(900))
            }
        case .heal:
            for a in blocked.indices { for b in blocked.indices { blocked[a][b] = false } }
            for node in nodes where !node.up { restart(node) }
            log("heal: all links up, all nodes restarted")
        case .clientWrite:
            clientWrite()
            if now < end - opts.quietTicks * Self.tickLength / 2 { queue.schedule(.clientWrite, at: now + 3 + random(20)) }
        case .clientRead:
            clientRead()
            if now < end - opts.quietTicks * Self.tickLength / 2 { queue.schedule(.clientRead, at: now + 3 + random(25)) }
        case .membership(let g):
            if faulting {
                changeMembership(groups[g])
                queue.schedule(.membership(group: g), at: now + 100 + random(400))
            }
        case .transfer(let g):
            if faulting {
                transferLeadership(groups[g])
                queue.schedule(.transfer(group: g), at: now + 800 + random(2500))
            }
        case .destroy(let g, let id):
            let group = groups[g]
            guard let n = group.nodeOf[id], let rep = nodes[n].replicas[g], rep.id == id else { return }
            nodes[n].replicas[g] = nil
            group.nodeOf[id] = nil
            log("group \(g): replica \(id) destroyed on node \(n)")
        }
    }

    func scheduleProcess(_ node: SimNode) {
        guard !node.processScheduled else { return }
        node.processScheduled = true
        queue.schedule(.process(node: node.index), at: now + 1 + random(3))
    }

    // MARK: - Faults

    func crash(_ node: SimNode) {
        node.up = false
        stats.crashes += 1
        for rep in node.replicas.values {
            rep.alive = false
            rep.kv = SimKV()
            rep.reads = [:]
            rep.unsynced = []
            rep.rounds.discard()
        }
        pendingWrites = pendingWrites.filter { groups[$0.value.group].nodeOf[$0.value.replica] != node.index }
        log("crash node \(node.index)")
    }

    func restart(_ node: SimNode) {
        guard !node.up else { return }
        node.up = true
        for g in node.replicas.keys.sorted() {
            let rep = node.replicas[g]!
            if let snap = rep.storage.snapshot {
                guard let kv = SimKV.restore(snap.data, index: snap.metadata.index) else {
                    fail("snapshot integrity", "replica \(rep.id) of group \(g) cannot decode its own snapshot")
                    return
                }
                rep.kv = kv
            } else {
                rep.kv = SimKV()
            }
            rep.core = makeCore(rep)
            rep.alive = true
        }
        scheduleProcess(node)
        log("restart node \(node.index)")
    }

    func partition() {
        for a in blocked.indices { for b in blocked.indices { blocked[a][b] = false } }
        let n = nodes.count
        switch random(5) {
        case 0, 1:
            // Symmetric split into two sides.
            let side = (0..<n).map { _ in chance(0.5) }
            for a in 0..<n { for b in 0..<n where side[a] != side[b] { blocked[a][b] = true } }
            log("partition \(side)")
        case 2:
            // Asymmetric: some directed links fail.
            for a in 0..<n { for b in 0..<n where a != b && chance(0.3) { blocked[a][b] = true } }
            log("asymmetric partition")
        case 3:
            // Isolate the node of some group's leader.
            if let (node, _) = leaderNode(of: groups[random(groups.count)]) {
                for b in 0..<n where b != node { blocked[node][b] = true; blocked[b][node] = true }
                log("isolate leader node \(node)")
            }
        default:
            log("links healed")
        }
        stats.partitions += 1
    }

    func leaderNode(of group: SimGroup) -> (Int, SimReplica)? {
        var best: (Int, SimReplica)?
        for (id, n) in group.nodeOf.sorted(by: { $0.key < $1.key }) where nodes[n].up {
            guard let rep = nodes[n].replicas[group.index], rep.id == id, rep.alive && rep.core.role == .leader else { continue }
            if best == nil || rep.core.term > best!.1.core.term { best = (n, rep) }
        }
        return best
    }

    func liveReplicas(of group: SimGroup) -> [SimReplica] {
        group.nodeOf.sorted(by: { $0.key < $1.key }).compactMap { id, n in
            guard nodes[n].up, let rep = nodes[n].replicas[group.index], rep.id == id, rep.alive else { return nil }
            return rep
        }
    }
}

extension String {
    func trimmingPrefixSpace() -> String { String(drop(while: { $0 == " " })) }
}
