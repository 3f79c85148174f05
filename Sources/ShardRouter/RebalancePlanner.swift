/// A cluster as the rebalance planner sees it: every node with its health, every shard with its
/// replicas and what is known of their Raft state. Built by the meta leader from the shard map and
/// node health; the planner only reads it.
public struct ClusterLayout: Sendable, Hashable {
    public struct Node: Sendable, Hashable {
        public var address: NodeAddress
        /// Reachable / recently heard from. A down node never receives replicas or leaderships
        /// and does not count in the balance.
        public var live: Bool
        /// Being removed: every replica must move off it.
        public var draining: Bool

        public init(address: NodeAddress, live: Bool = true, draining: Bool = false) {
            self.address = address
            self.live = live
            self.draining = draining
        }

        /// Whether the node may receive replicas and preferred leaderships: live and not draining.
        public var inService: Bool { live && !draining }
    }

    public struct ShardState: Sendable, Hashable {
        public var id: ShardID
        /// Current voters, distinct; the first is the preferred leader.
        public var replicas: [NodeAddress]
        /// Current Raft leader, if known. Ignored when it is not among `replicas`.
        public var leader: NodeAddress?
        /// Replicas known to be behind the leader's log. Nodes not among `replicas` are ignored.
        public var lagging: Set<NodeAddress>

        public init(id: ShardID, replicas: [NodeAddress], leader: NodeAddress? = nil, lagging: Set<NodeAddress> = []) {
            self.id = id
            self.replicas = replicas
            self.leader = leader
            self.lagging = lagging
        }
    }

    public var nodes: [Node]
    public var shards: [ShardState]
    /// The configured replica count. The planner moves replicas but never adds or removes any; a
    /// shard with another count is planned as it is, with a note.
    public var replicationFactor: Int

    public init(nodes: [Node], shards: [ShardState], replicationFactor: Int) {
        self.nodes = nodes
        self.shards = shards
        self.replicationFactor = replicationFactor
    }
}

/// One step of a rebalance; the executor runs at most one at a time per shard.
public enum RebalanceOperation: Sendable, Hashable, CustomStringConvertible {
    /// Move one replica: add a learner on `to`, catch it up, promote, remove `from`.
    case move(shard: ShardID, from: NodeAddress, to: NodeAddress)
    /// Make `to` the shard's preferred leader (leadership follows when `to` is caught up).
    case setLeader(shard: ShardID, to: NodeAddress)

    /// The shard the operation acts on.
    public var shard: ShardID {
        switch self {
        case .move(let shard, _, _), .setLeader(let shard, _): shard
        }
    }

    public var description: String {
        switch self {
        case .move(let shard, let from, let to): "move \(shard) replica \(from) -> \(to)"
        case .setLeader(let shard, let to): "set \(shard) preferred leader -> \(to)"
        }
    }
}

/// What the planner proposes: the operations and the layout they lead to.
public struct RebalancePlan: Sendable, Hashable {
    /// Moves first, in execution order (off draining nodes, off down nodes, then balancing; at
    /// most one per shard), then leader changes in shard order.
    public var operations: [RebalanceOperation]
    /// Replicas on each node of the layout after the plan (every node listed, zero included).
    public var replicasPerNode: [NodeAddress: Int]
    /// Preferred leaderships on each node of the layout after the plan (every node listed).
    public var leadersPerNode: [NodeAddress: Int]
    /// Human-readable: shards skipped and why, replicas that wait for a later plan.
    public var notes: [String]
    /// False when planning again after this plan has run would move more replicas: a shard
    /// needed a second move (one move per shard per plan), or a shard this plan repairs becomes
    /// movable. The caller runs the plan, then plans again.
    public var complete: Bool

    public init(
        operations: [RebalanceOperation] = [],
        replicasPerNode: [NodeAddress: Int] = [:],
        leadersPerNode: [NodeAddress: Int] = [:],
        notes: [String] = [],
        complete: Bool = true
    ) {
        self.operations = operations
        self.replicasPerNode = replicasPerNode
        self.leadersPerNode = leadersPerNode
        self.notes = notes
        self.complete = complete
    }
}

/// Why no plan can be made.
public enum RebalanceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A replica on a draining node has nowhere to go (e.g. not enough other live nodes).
    case cannotDrain(NodeAddress, shard: ShardID, reason: String)
    /// The layout contradicts itself (duplicate nodes or shards, replicas on unknown nodes, ...).
    case invalidLayout(String)

    public var description: String {
        switch self {
        case .cannotDrain(let node, let shard, let reason): "cannot drain \(node): \(shard): \(reason)"
        case .invalidLayout(let reason): "invalid cluster layout: \(reason)"
        }
    }
}

/// Plans how to even out replicas and preferred leaders over the nodes in service, and how to
/// move every replica off draining and down nodes. A pure, deterministic function of the layout
/// (same input, same output), in three phases:
///
/// 1. Evacuate: each replica on a draining node, then each on a down node, moves to the node in
///    service holding the fewest replicas (ties: fewest preferred leaderships, then address).
/// 2. Balance replicas over the nodes in service: while some node holds at least two more than
///    another, move a replica along the shortest chain of moves from a most loaded node to a less
///    loaded one (usually one move straight to the least loaded node that lacks the shard),
///    preferring replicas that are neither the Raft leader nor the preferred leader. Stops when
///    the counts differ by at most one, or no chain exists.
/// 3. Balance preferred leaders the same way over the replicas placed by phases 1 and 2, keeping
///    the current preferred leader wherever that does not hurt the balance.
///
/// Safety: every move adds a replica before removing one, so a shard never ends with fewer
/// replicas. A shard with a lagging replica, or with fewer live replicas than replicas, needs a
/// quorum of the new configuration it may not have, so none of its replicas move — except that
/// its replicas on down nodes move away while a majority of its replicas is live and caught up
/// (a repair). At most one move per shard per plan. A lagging replica or a replica on a node not
/// in service is never chosen as preferred leader.
public enum RebalancePlanner {
    /// The plan for `layout`. Throws `cannotDrain` when a replica on a draining node has no node in
    /// service to go to (one without a replica of its shard), and `invalidLayout` for duplicate
    /// nodes or shards, a shard without replicas or listing a node twice, a replica on a node not
    /// in `nodes`, or a replication factor below 1.
    public static func plan(_ layout: ClusterLayout) throws(RebalanceError) -> RebalancePlan {
        var state = try PlannerState(layout)
        try state.checkDrainsArePossible()
        state.evacuate()
        state.balanceReplicas()
        let moves = state.moveOperations()

        // Would a second plan move more? Plan the moves again on the layout this plan leads to.
        let moved = applying(RebalancePlan(operations: moves), to: layout)
        var next: PlannerState
        do { next = try PlannerState(moved, explain: false) } catch {
            preconditionFailure("moving replicas made an invalid layout: \(error)")
        }
        next.evacuate()
        next.balanceReplicas()

        let leaderChanges = state.balanceLeaders()
        return RebalancePlan(
            operations: moves + leaderChanges,
            replicasPerNode: state.replicasPerNode(),
            leadersPerNode: state.leadersPerNode(),
            notes: state.notes,
            complete: next.moveOperations().isEmpty
        )
    }

    /// Applies the plan's operations to the layout, for tests and dry runs. A move replaces `from`
    /// by `to` in place, except that a moved preferred leader's replacement goes last (the next
    /// replica becomes the preferred leader); it also drops `from` from `lagging`, and forgets
    /// the Raft leader when that was `from`. `setLeader` moves `to` to the front and makes it the
    /// Raft leader. Operations that do not fit the layout (unknown shard, `from` not a replica,
    /// `to` already one) are ignored.
    public static func applying(_ plan: RebalancePlan, to layout: ClusterLayout) -> ClusterLayout {
        var result = layout
        var position: [ShardID: Int] = [:]
        for (index, shard) in layout.shards.enumerated() where position[shard.id] == nil {
            position[shard.id] = index
        }
        for operation in plan.operations {
            guard let index = position[operation.shard] else { continue }
            switch operation {
            case .move(_, let from, let to):
                guard result.shards[index].replicas.contains(from) else { continue }
                result.shards[index].replicas = replicas(result.shards[index].replicas, moving: from, to: to)
                result.shards[index].lagging.remove(from)
                if result.shards[index].leader == from { result.shards[index].leader = nil }
            case .setLeader(_, let to):
                guard let at = result.shards[index].replicas.firstIndex(of: to) else { continue }
                result.shards[index].replicas.remove(at: at)
                result.shards[index].replicas.insert(to, at: 0)
                result.shards[index].leader = to
            }
        }
        return result
    }

    /// `replicas` after moving the replica on `from` to `to`: in place, except that the first
    /// (the preferred leader) is replaced at the end. Unchanged when `from` is absent or `to`
    /// is already present.
    static func replicas<Node: Equatable>(_ replicas: [Node], moving from: Node, to: Node) -> [Node] {
        guard let index = replicas.firstIndex(of: from), !replicas.contains(to) else { return replicas }
        var result = replicas
        if index == 0 {
            result.removeFirst()
            result.append(to)
        } else {
            result[index] = to
        }
        return result
    }
}

/// The planner's working copy of a layout. Nodes are numbered in address order and shards kept in
/// id order, so every choice (and every tie) is deterministic.
struct PlannerState {
    /// Which of a shard's replicas may move in this plan (see `RebalancePlanner`'s safety rules).
    enum Mobility {
        /// Every replica live and caught up: any replica may move.
        case any
        /// Some replica down, a majority live and caught up: only replicas on down nodes move.
        case downOnly
        /// No replica moves.
        case none
    }

    struct ShardPlan {
        let id: ShardID
        /// Replicas (node numbers) before the plan, in layout order.
        let original: [Int]
        /// Replicas after this plan's move, if any.
        var replicas: [Int]
        let raftLeader: Int?
        /// Replicas behind the leader's log (node numbers).
        let lagging: Set<Int>
        let mobility: Mobility
        /// This plan's move of the shard, from an original replica to a node that held none.
        var move: (from: Int, to: Int)?
    }

    let addresses: [NodeAddress]
    let live: [Bool]
    let draining: [Bool]
    let inService: [Bool]
    /// The nodes in service, in address order.
    let serving: [Int]
    var shards: [ShardPlan]
    /// Replicas per node, after the moves planned so far.
    var replicaCount: [Int]
    /// Preferred leaderships per node, after the moves planned so far.
    var leaderCount: [Int]
    /// Shards (indexes into `shards`) in the order their moves were planned.
    var moveOrder: [Int] = []
    var notes: [String] = []
    /// Whether to write notes (not when only counting what a later plan would do).
    let explain: Bool

    /// A working copy of `layout`; `explain` says whether to write notes.
    init(_ layout: ClusterLayout, explain: Bool = true) throws(RebalanceError) {
        self.explain = explain
        guard layout.replicationFactor >= 1 else {
            throw .invalidLayout("the replication factor is \(layout.replicationFactor); it must be at least 1")
        }
        let nodes = layout.nodes.sorted { $0.address < $1.address }
        for (a, b) in zip(nodes, nodes.dropFirst()) where a.address == b.address {
            throw .invalidLayout("\(a.address) is listed more than once among the nodes")
        }
        let addressOf = nodes.map(\.address)
        addresses = addressOf
        live = nodes.map(\.live)
        draining = nodes.map(\.draining)
        inService = nodes.map(\.inService)
        serving = nodes.indices.filter { nodes[$0].inService }
        let number = Dictionary(uniqueKeysWithValues: addresses.enumerated().map { ($1, $0) })

        let sorted = layout.shards.sorted { $0.id < $1.id }
        replicaCount = Array(repeating: 0, count: nodes.count)
        leaderCount = Array(repeating: 0, count: nodes.count)
        shards = []
        for (index, shard) in sorted.enumerated() {
            if index > 0, sorted[index - 1].id == shard.id {
                throw .invalidLayout("\(shard.id) is listed more than once")
            }
            guard !shard.replicas.isEmpty else { throw .invalidLayout("\(shard.id) has no replicas") }
            var replicas: [Int] = []
            for address in shard.replicas {
                guard let node = number[address] else {
                    throw .invalidLayout("\(shard.id) has a replica on \(address), which is not among the nodes")
                }
                guard !replicas.contains(node) else {
                    throw .invalidLayout("\(shard.id) lists \(address) more than once among its replicas")
                }
                replicas.append(node)
                replicaCount[node] += 1
            }
            leaderCount[replicas[0]] += 1
            let lagging = shard.lagging.isEmpty ? [] : Set(replicas.filter { shard.lagging.contains(addressOf[$0]) })
            let down = replicas.filter { !live[$0] }
            let caughtUp = replicas.count(where: { live[$0] && !lagging.contains($0) })
            let mobility: Mobility =
                down.isEmpty && lagging.isEmpty ? .any
                : !down.isEmpty && caughtUp * 2 > replicas.count ? .downOnly
                : .none
            shards.append(ShardPlan(
                id: shard.id,
                original: replicas,
                replicas: replicas,
                raftLeader: shard.leader.flatMap { number[$0] }.flatMap { replicas.contains($0) ? $0 : nil },
                lagging: lagging,
                mobility: mobility
            ))

            guard explain else { continue }
            if replicas.count != layout.replicationFactor {
                notes.append("\(shard.id) has \(replicas.count) replica\(replicas.count == 1 ? "" : "s") and the replication factor is \(layout.replicationFactor); the planner moves replicas but does not add or remove them")
            }
            let names = { (nodes: [Int]) in nodes.map { addressOf[$0].description }.joined(separator: ", ") }
            switch mobility {
            case .any:
                break
            case .downOnly:
                notes.append("\(shard.id): only its replica\(down.count == 1 ? "" : "s") on down \(down.count == 1 ? "node" : "nodes") \(names(down)) may move (repair); the others wait until every replica is live and caught up")
            case .none:
                var why: [String] = []
                if !down.isEmpty { why.append("down: \(names(down))") }
                if !lagging.isEmpty { why.append("behind the leader's log: \(names(lagging.sorted()))") }
                let quorum = down.isEmpty ? "" : "; only \(caughtUp) of \(replicas.count) replicas are live and caught up, not a majority"
                notes.append("\(shard.id) skipped, no replica moves (\(why.joined(separator: "; "))\(quorum))")
            }
        }
    }

    // MARK: Phase 1: evacuate draining and down nodes

    /// Throws when some shard has more replicas on draining nodes than there are nodes in service
    /// without a replica of it: those replicas could never leave.
    func checkDrainsArePossible() throws(RebalanceError) {
        for node in addresses.indices where draining[node] {
            for shard in shards where shard.replicas.contains(node) {
                let needed = shard.replicas.count(where: { draining[$0] })
                let free = freeNodes(for: shard).count
                guard free < needed else { continue }
                let reason =
                    serving.isEmpty ? "no node is live and not being drained"
                    : free == 0 ? "every live node that is not being drained already holds a replica of it"
                    : "\(needed) of its replicas are on draining nodes but only \(free) live, non-draining node\(free == 1 ? " holds" : "s hold") none of it"
                throw .cannotDrain(addresses[node], shard: shard.id, reason: reason)
            }
        }
    }

    /// Moves every replica off draining nodes, then off down nodes, where the safety rules allow.
    mutating func evacuate() {
        for node in addresses.indices where draining[node] { evacuate(node) }
        for node in addresses.indices where !live[node] && !draining[node] { evacuate(node) }
    }

    private mutating func evacuate(_ node: Int) {
        let kind = draining[node] ? "draining node" : "down node"
        for index in shards.indices where shards[index].replicas.contains(node) {
            let shard = shards[index]
            if shard.move != nil {
                if explain { notes.append("\(shard.id): its replica on \(kind) \(addresses[node]) moves in a later plan (one move per shard per plan)") }
                continue
            }
            switch shard.mobility {
            case .any: break
            case .downOnly where !live[node]: break
            case .downOnly, .none: continue  // noted when the shard was read
            }
            let free = freeNodes(for: shard)
            // Draining replicas still to move need free nodes after this move.
            let drainsLeft = shard.replicas.count(where: { draining[$0] && $0 != node })
            guard free.count - 1 >= drainsLeft, !free.isEmpty else {
                let why = free.isEmpty
                    ? "every node in service already holds a replica of it"
                    : "the nodes in service without a replica of it are needed for its replicas on draining nodes"
                if explain { notes.append("\(shard.id): its replica on \(kind) \(addresses[node]) stays: \(why)") }
                continue
            }
            let target = free.min { (replicaCount[$0], leaderCount[$0], $0) < (replicaCount[$1], leaderCount[$1], $1) }!
            move(index, from: node, to: target)
        }
    }

    /// Nodes in service that hold no replica of `shard`, in address order.
    private func freeNodes(for shard: ShardPlan) -> [Int] {
        serving.filter { !shard.replicas.contains($0) }
    }

    /// Records moving `shard`'s replica on `from` to `to`. When the shard already moves in this
    /// plan, `from` must be where that move lands and the two compose into one move (or none,
    /// when `to` is where it came from).
    private mutating func move(_ index: Int, from: Int, to: Int) {
        var shard = shards[index]
        let origin: Int
        if let earlier = shard.move {
            precondition(earlier.to == from, "a shard moves at most once per plan")
            origin = earlier.from
        } else {
            origin = from
            moveOrder.append(index)
        }
        replicaCount[from] -= 1
        replicaCount[to] += 1
        leaderCount[shard.replicas[0]] -= 1
        if origin == to {
            shard.move = nil
            shard.replicas = shard.original
            moveOrder.removeAll { $0 == index }
        } else {
            shard.move = (origin, to)
            shard.replicas = RebalancePlanner.replicas(shard.original, moving: origin, to: to)
        }
        leaderCount[shard.replicas[0]] += 1
        shards[index] = shard
    }

    func moveOperations() -> [RebalanceOperation] {
        moveOrder.map { index in
            let shard = shards[index]
            return .move(shard: shard.id, from: addresses[shard.move!.from], to: addresses[shard.move!.to])
        }
    }

    // MARK: Phase 2: even out replicas over the nodes in service

    mutating func balanceReplicas() {
        while true {
            // The shards each node in service holds a replica of that this plan may still move:
            // any replica of a shard free to move and not moved yet, or where a move lands.
            var movable = [[Int]](repeating: [], count: addresses.count)
            for (index, shard) in shards.enumerated() {
                if let move = shard.move {
                    movable[move.to].append(index)
                } else if shard.mobility == .any {
                    for node in shard.replicas where inService[node] { movable[node].append(index) }
                }
            }
            let edges = { (node: Int) in self.replicaMoves(of: movable[node], from: node) }
            guard let chain = Self.improvingChain(nodes: serving, load: replicaCount, edges: edges) else { return }
            for step in chain { move(step.item, from: step.from, to: step.to) }
        }
    }

    /// Moves of the replica on `node` of each of `shards` to a node in service without one, with
    /// their cost: 0 for a replica that is neither the Raft leader nor the preferred leader, +1
    /// for each of those.
    private func replicaMoves(of shards: [Int], from node: Int) -> [Edge] {
        var edges: [Edge] = []
        for index in shards {
            let shard = self.shards[index]
            let cost = (shard.replicas[0] == node ? 1 : 0) + (shard.raftLeader == node ? 1 : 0)
            for target in serving where !shard.replicas.contains(target) {
                edges.append(Edge(item: index, to: target, cost: cost))
            }
        }
        return edges
    }

    // MARK: Phase 3: even out preferred leaders

    /// Chooses preferred leaders over the final replicas and returns the changes, in shard order.
    mutating func balanceLeaders() -> [RebalanceOperation] {
        let eligible = shards.map { shard in
            shard.replicas.filter { inService[$0] && !shard.lagging.contains($0) }
        }
        let current = shards.map { $0.replicas[0] }
        var leader = current
        var load = Array(repeating: 0, count: addresses.count)
        var open: [Int] = []  // shards whose current preferred leader may not stay
        for index in shards.indices {
            if eligible[index].contains(leader[index]) {
                load[leader[index]] += 1
            } else if eligible[index].isEmpty {
                load[leader[index]] += 1
                if explain { notes.append("\(shards[index].id): no replica is live, caught up and on a node in service; its preferred leader stays \(addresses[leader[index]])") }
            } else {
                open.append(index)
            }
        }
        for index in open {
            leader[index] = eligible[index].min { (load[$0], $0) < (load[$1], $1) }!
            load[leader[index]] += 1
        }

        while true {
            var led = [[Int]](repeating: [], count: addresses.count)
            for index in shards.indices where eligible[index].contains(leader[index]) {
                led[leader[index]].append(index)
            }
            // Hand a shard's preferred leadership from `node` to another eligible replica; the
            // cost is the change in the number of setLeader operations.
            let handOffs = { (node: Int) -> [Edge] in
                var edges: [Edge] = []
                for index in led[node] {
                    let stays = node == current[index] ? -1 : 0
                    for target in eligible[index] where target != node {
                        edges.append(Edge(item: index, to: target, cost: (target == current[index] ? -1 : 0) - stays))
                    }
                }
                return edges
            }
            guard let chain = Self.improvingChain(nodes: serving, load: load, edges: handOffs) else { break }
            for step in chain {
                leader[step.item] = step.to
                load[step.from] -= 1
                load[step.to] += 1
            }
        }

        var changes: [RebalanceOperation] = []
        for index in shards.indices where leader[index] != current[index] {
            leaderCount[current[index]] -= 1
            leaderCount[leader[index]] += 1
            changes.append(.setLeader(shard: shards[index].id, to: addresses[leader[index]]))
        }
        return changes
    }

    // MARK: Results

    func replicasPerNode() -> [NodeAddress: Int] {
        Dictionary(uniqueKeysWithValues: zip(addresses, replicaCount))
    }

    func leadersPerNode() -> [NodeAddress: Int] {
        Dictionary(uniqueKeysWithValues: zip(addresses, leaderCount))
    }

    // MARK: Chains of reassignments

    /// Handing one unit of load (a replica, a preferred leadership) from a node to `to`.
    struct Edge {
        var item: Int
        var to: Int
        var cost: Int
    }

    /// One step of a chain: `item` goes from `from` to `to`.
    struct Step {
        var item: Int
        var from: Int
        var to: Int
    }

    /// A shortest chain of reassignments that takes one unit from a node with load L and gives one
    /// to a node with load at most L - 2 (the nodes between keep theirs), or nil when there is
    /// none, which means the loads are as even as the allowed reassignments can make them.
    /// Sources are tried most loaded first; among chains of the same length the cheapest wins,
    /// then the least loaded destination, then the lowest node number.
    ///
    /// Items along a shortest chain are distinct: were an item used twice, its second target
    /// would have been reachable directly from the first step's node, one step earlier.
    static func improvingChain(nodes: [Int], load: [Int], edges: (Int) -> [Edge]) -> [Step]? {
        guard let minLoad = nodes.map({ load[$0] }).min() else { return nil }
        let sources = nodes.sorted { (load[$1], $0) < (load[$0], $1) }
        for source in sources {
            guard load[source] - minLoad >= 2 else { break }
            // Per node: the step that first reached it and the chain's cost up to it.
            var parent = [Step?](repeating: nil, count: load.count)
            var cost = [Int?](repeating: nil, count: load.count)
            cost[source] = 0
            var layer = [source]
            while !layer.isEmpty {
                var reached: [Int] = []
                var reachedCost = [Int?](repeating: nil, count: load.count)
                for node in layer {
                    for edge in edges(node) where cost[edge.to] == nil {
                        let total = cost[node]! + edge.cost
                        if let best = reachedCost[edge.to] {
                            if best <= total { continue }
                        } else {
                            reached.append(edge.to)
                        }
                        reachedCost[edge.to] = total
                        parent[edge.to] = Step(item: edge.item, from: node, to: edge.to)
                    }
                }
                reached.sort()
                for node in reached { cost[node] = reachedCost[node] }
                let destination = reached
                    .filter { load[$0] <= load[source] - 2 }
                    .min { (cost[$0]!, load[$0], $0) < (cost[$1]!, load[$1], $1) }
                if var node = destination {
                    var chain: [Step] = []
                    while node != source {
                        let step = parent[node]!
                        chain.append(step)
                        node = step.from
                    }
                    return chain.reversed()
                }
                layer = reached
            }
        }
        return nil
    }
}
