import Logging
import KVStore
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import ShardRouter
import SystemClock

/// Runs on every node and acts only where the meta group's leader is: it keeps the meta
/// group's membership in step with the node table (`MetaMembership` decides the next change)
/// and works through the queue of replica moves, a bounded number at once and one per shard
/// (`MoveStep` decides each move's next step from the group as its leader reports it). This
/// class is the shell that carries those decisions out: group operations go to the group's
/// leader as typed peer frames (`ClusterNode.perform`), layout changes through the meta group.
/// It also serves the admin commands that change the layout (on the meta leader).
final class Rebalancer: @unchecked Sendable {
    private weak var node: ClusterNode?
    let maxMoves: Int

    private struct Tracking {
        var inFlight: Set<ShardID> = []
        var metaBusy = false
        /// Per move: what it is doing, and when its learner last made progress.
        var stage: [ShardID: String] = [:]
        var catchUp: [ShardID: MoveStep.CatchUp] = [:]
        var aborting: Set<ShardID> = []
        var lastDrainPlan = 0.0
        /// Nodes whose meta replicas the meta leader heard from recently (refreshed each tick).
        var live: Set<NodeID> = []
    }
    private let tracking = NIOLockedValueBox(Tracking())
    private var task: RepeatedTask?

    /// A learner that makes no progress for this long is removed and its move abandoned.
    static let stallSeconds = 120.0
    static let tickMillis: Int64 = 200

    init(node: ClusterNode, maxMoves: Int) {
        self.node = node
        self.maxMoves = maxMoves
    }

    func start(on loop: any EventLoop) {
        task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(Self.tickMillis)) { [weak self] _ in
            self?.tick()
        }
    }

    func stop() { task?.cancel() }

    private var isMetaLeader: Bool { node?.host.status(of: ClusterNode.metaGroup)?.role == .leader }

    private func tick() {
        guard let node, isMetaLeader else { return }
        let meta = node.meta
        reconcileMetaGroup(meta)
        for move in meta.moves.prefix(maxMoves) {
            let started = tracking.withLockedValue { t in t.inFlight.insert(move.shard).inserted }
            if started { step(move) }
        }
        finishDrains(meta)
    }

    // MARK: - Talking to groups

    private func progress(_ group: GroupID, completion: @escaping @Sendable (ReplicaProgress?) -> Void) {
        guard let node else { return completion(nil) }
        node.perform(.progress, on: group) { completion($0.progress) }
    }

    /// Performs `op` on `group`'s leader; a failure is noted in the node's log.
    private func perform(_ op: GroupOp, on group: GroupID, completion: @escaping @Sendable () -> Void = {}) {
        guard let node else { return completion() }
        node.perform(op, on: group) { [weak node] result in
            if case .failed(let why) = result { Logs.rebalance.warning("\(op) in group \(group) failed: \(why)", metadata: ["group": "\(group)"]) }
            completion()
        }
    }

    private func proposeMeta(_ command: MetaState.Command, completion: @escaping @Sendable (KVResult?) -> Void = { _ in }) {
        guard let node else { return completion(nil) }
        // Completions leave the host thread: they may plan, which asks the host again.
        let loop = node.eventLoop
        node.host.propose(ClusterNode.metaGroup, command.encoded(), returning: KVResult.self) { result in
            loop.execute { completion(try? result.get()) }
        }
    }

    private func setStage(_ shard: ShardID, _ text: String) { tracking.withLockedValue { $0.stage[shard] = text } }

    // MARK: - Moves

    private func step(_ move: MetaState.Move) {
        let gid = ClusterNode.group(of: move.shard)
        progress(gid) { [weak self] p in
            guard let self else { return }
            defer { tracking.withLockedValue { _ = $0.inFlight.remove(move.shard) } }
            let decision = tracking.withLockedValue { t in
                MoveStep.next(move: move, progress: p, aborting: t.aborting.contains(move.shard), catchUp: t.catchUp[move.shard],
                              now: monotonicSeconds(), stallSeconds: Self.stallSeconds)
            }
            tracking.withLockedValue { t in
                t.catchUp[move.shard] = decision.catchUp
                if let stage = decision.stage { t.stage[move.shard] = stage }
            }
            switch decision.action {
            case .wait:
                break
            case .addLearner(let r):
                Logs.rebalance.info("moving shard \(move.shard.rawValue) to node \(move.to): adding replica \(r) as a learner", metadata: ["shard": "\(move.shard.rawValue)"])
                perform(.confChange(.addLearner(r)), on: gid)
            case .promote(let r):
                Logs.rebalance.info("moving shard \(move.shard.rawValue) to node \(move.to): promoting replica \(r) to voter", metadata: ["shard": "\(move.shard.rawValue)"])
                perform(.confChange(.addVoter(r)), on: gid)
            case .transfer(let r):
                Logs.rebalance.info("moving shard \(move.shard.rawValue): handing its leadership to replica \(r)", metadata: ["shard": "\(move.shard.rawValue)"])
                perform(.transfer(r), on: gid)
            case .remove(let r):
                Logs.rebalance.info("moving shard \(move.shard.rawValue): removing replica \(r)", metadata: ["shard": "\(move.shard.rawValue)"])
                perform(.confChange(.remove(r)), on: gid)
            case .abandon:
                Logs.rebalance.warning("the new replica of shard \(move.shard.rawValue) on node \(move.to) made no progress; abandoning the move", metadata: ["shard": "\(move.shard.rawValue)"])
                tracking.withLockedValue { _ = $0.aborting.insert(move.shard) }
            case .abort:
                Logs.rebalance.warning("aborted the move of shard \(move.shard.rawValue) to node \(move.to)", metadata: ["shard": "\(move.shard.rawValue)"])
                proposeMeta(.abortMove(move.shard, replica: move.replica))
                tracking.withLockedValue { t in
                    t.aborting.remove(move.shard)
                    t.stage[move.shard] = nil
                    t.catchUp[move.shard] = nil
                }
            case .finish:
                Logs.rebalance.info("moved shard \(move.shard.rawValue) to node \(move.to)", metadata: ["shard": "\(move.shard.rawValue)"])
                proposeMeta(.finishMove(move.shard, replica: move.replica)) { [weak self] _ in
                    self?.tracking.withLockedValue { t in
                        t.stage[move.shard] = nil
                        t.catchUp[move.shard] = nil
                    }
                }
            }
        }
    }

    // MARK: - The meta group's own membership

    /// One change of the meta group's membership at a time (`MetaMembership` decides which).
    private func reconcileMetaGroup(_ meta: MetaState) {
        guard let node else { return }
        let busy = tracking.withLockedValue { t -> Bool in
            defer { t.metaBusy = true }
            return t.metaBusy
        }
        guard !busy else { return }
        let done: @Sendable () -> Void = { [weak self] in self?.tracking.withLockedValue { $0.metaBusy = false } }
        node.host.replicaProgress(ClusterNode.metaGroup) { [weak self] p in
            guard let self, let node = self.node, let p else { return done() }
            tracking.withLockedValue { $0.live = Set(p.active.map { ReplicaIDs.node(of: $0) }) }
            switch MetaMembership.next(progress: p, nodes: meta.nodes, me: node.selfID, maxVoters: ClusterNode.maxMetaVoters) {
            case .none:
                done()
            case .transfer(let successor):
                node.host.transferLeadershipIfCaughtUp(ClusterNode.metaGroup, to: successor)
                done()
            case .change(let cc, let what):
                node.host.proposeConfChange(ClusterNode.metaGroup, cc) { r in
                    if case .failure(let e) = r { Logs.rebalance.warning("meta membership: \(what): \(e)") }
                    done()
                }
            }
        }
    }

    /// A draining node with no replicas left and no move touching it is removed from the
    /// node table; one that still holds replicas with nothing queued gets its moves planned.
    private func finishDrains(_ meta: MetaState) {
        for n in meta.nodes.values where n.state == .draining {
            let holds = meta.map.shards.contains { $0.replicas.contains(n.address) }
            let moving = meta.moves.contains { $0.from == n.id || $0.to == n.id }
            if !holds && !moving {
                proposeMeta(.setNodeState(n.id, .removed))
            } else if !moving {
                let due = tracking.withLockedValue { t -> Bool in
                    guard monotonicSeconds() - t.lastDrainPlan > 5 else { return false }
                    t.lastDrainPlan = monotonicSeconds()
                    return true
                }
                if due { plan(meta, dryRun: false) { _ in } }
            }
        }
    }

    // MARK: - Admin commands (on the meta leader)

    func command(_ name: String, _ a: [String], reply: @escaping @Sendable (RESPValue) -> Void) {
        guard let node else { return reply(.error("TRYAGAIN stopping")) }
        let meta = node.meta
        switch name {
        case "MYSTORE.NODE":
            let sub = a.first?.uppercased() ?? ""
            switch sub {
            case "ADD":
                guard a.count == 2, let address = try? NodeAddress(parsing: a[1]) else { return reply(.error("ERR usage: MYSTORE.NODE ADD <host:port>")) }
                proposeMeta(.registerNode(address)) { r in
                    if case .integer(let id)? = r { reply(.integer(id)) } else { reply(.error("TRYAGAIN could not register \(address); retry")) }
                }
            case "REMOVE":
                guard a.count == 2, let n = Self.resolve(a[1], in: meta) else { return reply(.error("ERR usage: MYSTORE.NODE REMOVE <node id|host:port> (no such node)")) }
                guard meta.nodes[n]?.state == .active else { return reply(.error("ERR node \(n) is already \(meta.nodes[n]!.state)")) }
                var drainingState = meta
                drainingState.nodes[n]!.state = .draining
                let draining = drainingState
                layout(draining) { layout in
                    do {
                        _ = try RebalancePlanner.plan(layout)
                    } catch {
                        return reply(.error("ERR cannot remove node \(n): \(error)"))
                    }
                    self.proposeMeta(.setNodeState(n, .draining)) { r in
                        guard r == .ok else { return reply(.error("TRYAGAIN could not mark node \(n) draining; retry")) }
                        self.plan(draining, dryRun: false, reply: reply)
                    }
                }
            case "LIST":
                reply(.array(nodeRows(meta)))
            default:
                reply(.error("ERR usage: MYSTORE.NODE ADD|REMOVE|LIST"))
            }
        case "MYSTORE.REBALANCE":
            let live = liveNodes()
            if let n = meta.nodes.values.filter({ $0.state == .active && !live.contains($0.id) }).min(by: { $0.id < $1.id }) {
                // A node just added has not caught up with the meta group yet (or is down).
                return reply(.error("TRYAGAIN node \(n.id) (\(n.address)) is not reachable yet; retry"))
            }
            plan(meta, dryRun: a.first?.uppercased() == "DRYRUN", reply: reply)
        case "MYSTORE.SHARDMOVE":
            guard a.count == 3, let s = Int(a[0]), let from = Self.resolve(a[1], in: meta), let to = Self.resolve(a[2], in: meta) else {
                return reply(.error("ERR usage: MYSTORE.SHARDMOVE <shard> <from node> <to node>"))
            }
            guard let shard = meta.map.shard(id: ShardID(rawValue: s)) else { return reply(.error("ERR no shard \(s)")) }
            guard meta.move(of: shard.id) == nil else { return reply(.error("ERR shard \(s) already has a move in progress")) }
            guard let f = meta.nodes[from], shard.replicas.contains(f.address) else { return reply(.error("ERR node \(from) holds no replica of shard \(s)")) }
            guard let t = meta.nodes[to], t.state == .active, !shard.replicas.contains(t.address) else {
                return reply(.error("ERR node \(to) is not an active node without a replica of shard \(s)"))
            }
            proposeMeta(.enqueueMoves([(shard.id, from, to)])) { r in
                if case .integer(1)? = r { reply(.ok) } else { reply(.error("ERR the move was not accepted")) }
            }
        case "MYSTORE.LEADERTRANSFER":
            guard a.count == 2, let s = Int(a[0]), let to = Self.resolve(a[1], in: meta), let shard = meta.map.shard(id: ShardID(rawValue: s)),
                  let replica = meta.replicaIDs[shard.id]?[to] else {
                return reply(.error("ERR usage: MYSTORE.LEADERTRANSFER <shard> <node holding a replica>"))
            }
            proposeMeta(.setPreferredLeader(shard.id, to)) { [weak self] r in
                guard r == .ok else { return reply(.error("ERR could not set the preferred leader")) }
                self?.perform(.transfer(replica), on: ClusterNode.group(of: shard.id)) { reply(.ok) }
            }
        default:  // MYSTORE.MOVES
            let t = tracking.withLockedValue { $0 }
            reply(.array([
                .integer(Int64(meta.movesDone)),
                .array(meta.moves.enumerated().map { k, m in
                    .array([.integer(Int64(m.shard.rawValue)), .integer(Int64(m.from)), .integer(Int64(m.to)),
                            .bulk(k < maxMoves ? (t.stage[m.shard] ?? "starting") : "queued")])
                }),
            ]))
        }
    }

    static func resolve(_ text: String, in meta: MetaState) -> NodeID? {
        if let n = NodeID(text), meta.nodes[n] != nil { return n }
        if let a = try? NodeAddress(parsing: text) { return meta.nodes.values.first { $0.address == a }?.id }
        return nil
    }

    /// `MYSTORE.NODE LIST` rows: id, address, state, replicas, preferred leaderships, leaders now.
    private func nodeRows(_ meta: MetaState) -> [RESPValue] {
        let live = liveNodes()
        return meta.nodes.values.sorted { $0.id < $1.id }.map { n in
            let replicas = meta.map.shards.filter { $0.replicas.contains(n.address) }.count
            let preferred = meta.map.shards.filter { $0.preferredLeader == n.address }.count
            return .array([.integer(Int64(n.id)), .bulk(n.address.description), .bulk(n.state.description), .integer(Int64(replicas)),
                           .integer(Int64(preferred)), .bulk(n.state == .removed ? "-" : (live.contains(n.id) ? "up" : "down"))])
        }
    }

    /// Nodes the meta leader heard from recently (their meta replicas are active).
    private func liveNodes() -> Set<NodeID> {
        let live = tracking.withLockedValue { $0.live }
        return live.isEmpty ? [node?.selfID ?? 0] : live
    }

    /// The planner's input: nodes with liveness, shards with their leaders and lagging
    /// replicas as each shard's leader reports them.
    private func layout(_ meta: MetaState, completion: @escaping @Sendable (ClusterLayout) -> Void) {
        let live = liveNodes()
        let shards = meta.map.shards
        let rf = shards.map(\.replicas.count).max() ?? 1
        let states = NIOLockedValueBox<(left: Int, out: [ShardID: ClusterLayout.ShardState])>((shards.count, [:]))
        let nodes = meta.nodes.values.filter { $0.state != .removed }.sorted { $0.id < $1.id }
            .map { ClusterLayout.Node(address: $0.address, live: live.contains($0.id), draining: $0.state == .draining) }
        let finish: @Sendable () -> Void = {
            let out = states.withLockedValue { $0.out }
            completion(ClusterLayout(nodes: nodes, shards: shards.map { out[$0.id] ?? ClusterLayout.ShardState(id: $0.id, replicas: $0.replicas) },
                                     replicationFactor: rf))
        }
        if shards.isEmpty { return finish() }
        for s in shards {
            progress(ClusterNode.group(of: s.id)) { p in
                var st = ClusterLayout.ShardState(id: s.id, replicas: s.replicas)
                if let p {
                    let ids = meta.replicaIDs[s.id] ?? [:]
                    let addressOf: (ReplicaID) -> NodeAddress? = { r in ids.first { $0.value == r }.flatMap { meta.nodes[$0.key]?.address } }
                    st.leader = addressOf(p.leader)
                    for (n, r) in ids where !p.active.contains(r) || (p.match[r] ?? 0) + 1000 < p.commitIndex {
                        if let a = meta.nodes[n]?.address, live.contains(n) { st.lagging.insert(a) }
                    }
                }
                let last = states.withLockedValue { x -> Bool in
                    x.out[s.id] = st
                    x.left -= 1
                    return x.left == 0
                }
                if last { finish() }
            }
        }
    }

    /// Plans a rebalance of `meta` and (unless a dry run) queues its moves and leader choices.
    func plan(_ meta: MetaState, dryRun: Bool, reply: @escaping @Sendable (RESPValue) -> Void) {
        layout(meta) { [weak self] layout in
            guard let self else { return reply(.error("TRYAGAIN stopping")) }
            let plan: RebalancePlan
            do {
                plan = try RebalancePlanner.plan(layout)
            } catch {
                return reply(.error("ERR cannot rebalance: \(error)"))
            }
            let id: (NodeAddress) -> NodeID? = { a in meta.node(at: a)?.id }
            var moves: [(shard: ShardID, from: NodeID, to: NodeID)] = []
            var leaders: [(ShardID, NodeID)] = []
            for op in plan.operations {
                switch op {
                case .move(let s, let from, let to):
                    if let f = id(from), let t = id(to) { moves.append((s, f, t)) }
                case .setLeader(let s, let to):
                    if let t = id(to) { leaders.append((s, t)) }
                }
            }
            let summary: RESPValue = .array([
                .array(plan.operations.map { .bulk($0.description) }),
                .array(plan.replicasPerNode.sorted { $0.key < $1.key }.map { .bulk("\($0.key) replicas=\($0.value) leaders=\(plan.leadersPerNode[$0.key] ?? 0)") }),
                .array(plan.notes.map { .bulk($0) }),
                .integer(plan.complete ? 1 : 0),
            ])
            if dryRun { return reply(summary) }
            if !moves.isEmpty { proposeMeta(.enqueueMoves(moves)) }
            for (s, t) in leaders { proposeMeta(.setPreferredLeader(s, t)) }
            reply(summary)
        }
    }
}
