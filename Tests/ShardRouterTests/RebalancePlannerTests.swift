import Testing
@testable import ShardRouter

@Suite("Rebalance planner")
struct RebalancePlannerTests {
    static func node(_ index: Int) -> NodeAddress { NodeAddress(host: "10.0.0.\(index + 1)", port: 7001)! }

    /// The initial placement of `shardCount` shards on the first `placedOn` of `nodeCount` nodes.
    static func layout(nodes nodeCount: Int, placedOn: Int, shards shardCount: Int, replicationFactor: Int = 3) throws -> ClusterLayout {
        let map = try Placement.initial(nodes: (0..<placedOn).map(node), shardCount: shardCount, replicationFactor: replicationFactor)
        return ClusterLayout(
            nodes: (0..<nodeCount).map { ClusterLayout.Node(address: node($0)) },
            shards: map.shards.map { ClusterLayout.ShardState(id: $0.id, replicas: $0.replicas, leader: $0.replicas[0]) },
            replicationFactor: replicationFactor
        )
    }

    static func shard(_ id: Int, _ replicas: [Int], lagging: [Int] = []) -> ClusterLayout.ShardState {
        ClusterLayout.ShardState(id: ShardID(rawValue: id), replicas: replicas.map(node), leader: node(replicas[0]), lagging: Set(lagging.map(node)))
    }

    static func spread(_ counts: [NodeAddress: Int], over nodes: [NodeAddress]) -> Int {
        let values = nodes.map { counts[$0] ?? 0 }
        return values.max()! - values.min()!
    }

    static func moves(_ plan: RebalancePlan) -> [(shard: ShardID, from: NodeAddress, to: NodeAddress)] {
        plan.operations.compactMap { if case .move(let shard, let from, let to) = $0 { (shard, from, to) } else { nil } }
    }

    /// Plans and applies until a plan has no operations; returns the final layout and the plans.
    static func converge(_ layout: ClusterLayout, rounds: Int = 12) throws -> (ClusterLayout, [RebalancePlan]) {
        var current = layout
        var plans: [RebalancePlan] = []
        for _ in 0..<rounds {
            let plan = try RebalancePlanner.plan(current)
            PlanChecks.check(plan, on: current)
            // A plan is complete exactly when the next one has nothing to do.
            if let previous = plans.last {
                #expect(previous.complete == plan.operations.isEmpty, "plan \(plans.count) of \(layout)")
            }
            plans.append(plan)
            if plan.operations.isEmpty { return (current, plans) }
            current = RebalancePlanner.applying(plan, to: current)
        }
        Issue.record("no empty plan after \(rounds) rounds")
        return (current, plans)
    }

    @Test func fourthNodeJoinsThreeNodesWithSixteenShards() throws {
        let layout = try Self.layout(nodes: 4, placedOn: 3, shards: 16)
        let plan = try RebalancePlanner.plan(layout)
        let all = (0..<4).map(Self.node)
        #expect(all.map { plan.replicasPerNode[$0] } == [12, 12, 12, 12])
        #expect(all.map { plan.leadersPerNode[$0] } == [4, 4, 4, 4])
        #expect(plan.complete)
        #expect(plan.notes.isEmpty)
        let moves = Self.moves(plan)
        #expect(moves.count == 12)
        #expect(moves.allSatisfy { $0.to == Self.node(3) })
        // Only followers move, and the fewest leader changes: the new node takes 4 leaderships.
        #expect(moves.allSatisfy { move in layout.shards.first { $0.id == move.shard }!.replicas[0] != move.from })
        #expect(plan.operations.count == 16)
        PlanChecks.check(plan, on: layout)

        let after = RebalancePlanner.applying(plan, to: layout)
        #expect(try RebalancePlanner.plan(after).operations.isEmpty)
        #expect(try RebalancePlanner.plan(layout) == plan)  // deterministic
    }

    @Test func alreadyBalancedLayoutNeedsNothing() throws {
        for nodeCount in 1...6 {
            for factor in 1...min(3, nodeCount) {
                let layout = try Self.layout(nodes: nodeCount, placedOn: nodeCount, shards: 16, replicationFactor: factor)
                let plan = try RebalancePlanner.plan(layout)
                #expect(plan.operations.isEmpty, "nodes=\(nodeCount) rf=\(factor): \(plan.operations)")
                #expect(plan.complete)
            }
        }
    }

    @Test(arguments: [(5, 3, 16), (7, 4, 10), (7, 3, 10), (5, 4, 7)])
    func unevenNodeCounts(nodeCount: Int, placedOn: Int, shardCount: Int) throws {
        let layout = try Self.layout(nodes: nodeCount, placedOn: placedOn, shards: shardCount)
        let (final, plans) = try Self.converge(layout)
        let all = (0..<nodeCount).map(Self.node)
        let last = try #require(plans.last)
        #expect(Self.spread(last.replicasPerNode, over: all) <= 1, "\(last.replicasPerNode)")
        #expect(Self.spread(last.leadersPerNode, over: all) <= 1, "\(last.leadersPerNode)")
        #expect(all.allSatisfy { last.replicasPerNode[$0]! > 0 })
        #expect(plans.count <= 4)
        #expect(final.shards.allSatisfy { $0.replicas.count == 3 })
    }

    @Test func sixteenShardsOnFiveNodesNeedASecondPlan() throws {
        // Two new nodes need 19 replicas, more than one move for each of the 16 shards.
        let plan = try RebalancePlanner.plan(try Self.layout(nodes: 5, placedOn: 3, shards: 16))
        #expect(!plan.complete)
        #expect(Self.moves(plan).count == 16)
    }

    @Test func downNodeGetsNothingAndItsReplicasAreRepaired() throws {
        var layout = try Self.layout(nodes: 4, placedOn: 4, shards: 16)
        layout.nodes[3].live = false
        let down = Self.node(3)
        let plan = try RebalancePlanner.plan(layout)
        PlanChecks.check(plan, on: layout)
        let moves = Self.moves(plan)
        // Each of its 12 replicas leaves: every such shard still has 2 of 3 replicas live.
        #expect(moves.count == 12)
        #expect(moves.allSatisfy { $0.from == down })
        #expect(plan.replicasPerNode[down] == 0 && plan.leadersPerNode[down] == 0)
        let live = (0..<3).map(Self.node)
        #expect(live.map { plan.replicasPerNode[$0] } == [16, 16, 16])
        #expect(Self.spread(plan.leadersPerNode, over: live) <= 1)
        #expect(plan.complete)
        #expect(try RebalancePlanner.plan(RebalancePlanner.applying(plan, to: layout)).operations.isEmpty)
    }

    @Test func downNodeDoesNotCountInTheBalance() throws {
        // Nodes 0-2 hold everything, node 3 is new, node 4 is down and holds two shards whose
        // other replicas are not caught up, so neither can be repaired.
        var layout = try Self.layout(nodes: 5, placedOn: 3, shards: 12)
        layout.nodes[4].live = false
        layout.shards[0] = Self.shard(0, [4, 0, 1], lagging: [1])
        layout.shards[1] = Self.shard(1, [1, 4, 2], lagging: [1])
        let plan = try RebalancePlanner.plan(layout)
        PlanChecks.check(plan, on: layout)
        #expect(Self.moves(plan).allSatisfy { $0.to != Self.node(4) && $0.shard.rawValue > 1 })
        #expect(plan.replicasPerNode[Self.node(4)] == 2)
        // 34 replicas on the four live nodes: 8 or 9 each, whatever node 4 holds.
        #expect(Self.spread(plan.replicasPerNode, over: (0..<4).map(Self.node)) <= 1)
        #expect(plan.notes.contains { $0.hasPrefix("shard-0 skipped") })
        #expect(plan.notes.contains { $0.hasPrefix("shard-1 skipped") })
        // Shard 0's preferred leader was on the down node; node 1 is behind, so node 0 leads.
        #expect(plan.operations.contains(.setLeader(shard: ShardID(rawValue: 0), to: Self.node(0))))
        // Shard 1's preferred leader (node 1) is behind: node 2, live and caught up, takes over.
        #expect(plan.operations.contains(.setLeader(shard: ShardID(rawValue: 1), to: Self.node(2))))
    }

    @Test func shardWithALaggingReplicaIsLeftAlone() throws {
        var layout = try Self.layout(nodes: 4, placedOn: 3, shards: 16)
        // Shard 0: a follower is behind. Shard 1: its preferred leader is behind.
        layout.shards[0].lagging = [layout.shards[0].replicas[2]]
        let behindLeader = layout.shards[1].replicas[0]
        layout.shards[1].lagging = [behindLeader]
        let plan = try RebalancePlanner.plan(layout)
        PlanChecks.check(plan, on: layout)
        #expect(!Self.moves(plan).contains { $0.shard.rawValue <= 1 })
        #expect(plan.notes.contains { $0.hasPrefix("shard-0 skipped") && $0.contains("behind") })
        #expect(plan.notes.contains { $0.hasPrefix("shard-1 skipped") })
        let after = RebalancePlanner.applying(plan, to: layout)
        #expect(after.shards[1].replicas[0] != behindLeader)
        #expect((0..<4).map { plan.replicasPerNode[Self.node($0)]! } == [12, 12, 12, 12])
        #expect(Self.spread(plan.leadersPerNode, over: (0..<4).map(Self.node)) <= 1)
        #expect(plan.complete)
        #expect(try RebalancePlanner.plan(after).operations.isEmpty)
    }

    @Test func shardWithOnlyTwoLiveReplicas() throws {
        // Nodes 0-3 live, node 4 down. Shard 0 has two of three replicas live and caught up:
        // only its down replica moves (repair). Shard 1 has two live replicas, one of them
        // behind: no majority is live and caught up, so nothing moves. Shard 2 has two replicas
        // in all (replication factor 3): it may move, with a note.
        let layout = ClusterLayout(
            nodes: (0..<5).map { ClusterLayout.Node(address: Self.node($0), live: $0 != 4) },
            shards: [
                Self.shard(0, [0, 1, 4]),
                Self.shard(1, [4, 2, 3], lagging: [3]),
                Self.shard(2, [0, 1]),
                Self.shard(3, [1, 2, 3]),
            ],
            replicationFactor: 3
        )
        let plan = try RebalancePlanner.plan(layout)
        PlanChecks.check(plan, on: layout)
        let moves = Self.moves(plan)
        #expect(moves.contains { $0.shard.rawValue == 0 && $0.from == Self.node(4) })
        #expect(!moves.contains { $0.shard.rawValue == 0 && $0.from != Self.node(4) })
        #expect(!moves.contains { $0.shard.rawValue == 1 })
        #expect(plan.notes.contains { $0.hasPrefix("shard-0: only its replica on down node 10.0.0.5:7001 may move") })
        #expect(plan.notes.contains { $0.hasPrefix("shard-1 skipped") && $0.contains("only 1 of 3 replicas") })
        #expect(plan.notes.contains { $0.hasPrefix("shard-2 has 2 replicas") })
        // Shard 1's preferred leader is down and node 3 is behind: node 2 becomes preferred.
        #expect(plan.operations.contains(.setLeader(shard: ShardID(rawValue: 1), to: Self.node(2))))
        let after = RebalancePlanner.applying(plan, to: layout)
        #expect(after.shards.map(\.replicas.count) == [3, 3, 2, 3])
        #expect(Self.spread(plan.replicasPerNode, over: (0..<4).map(Self.node)) <= 1)
    }

    @Test func drainingAnOriginalNode() throws {
        // Grow 3 -> 4, then drain node 0.
        let initial = try Self.layout(nodes: 4, placedOn: 3, shards: 16)
        var layout = RebalancePlanner.applying(try RebalancePlanner.plan(initial), to: initial)
        layout.nodes[0].draining = true
        let plan = try RebalancePlanner.plan(layout)
        PlanChecks.check(plan, on: layout)
        #expect(Self.moves(plan).count == 12)
        #expect(Self.moves(plan).allSatisfy { $0.from == Self.node(0) })
        #expect(plan.replicasPerNode[Self.node(0)] == 0 && plan.leadersPerNode[Self.node(0)] == 0)
        let rest = (1..<4).map(Self.node)
        #expect(rest.map { plan.replicasPerNode[$0] } == [16, 16, 16])
        #expect(Self.spread(plan.leadersPerNode, over: rest) <= 1)
        #expect(plan.complete)
        let after = RebalancePlanner.applying(plan, to: layout)
        #expect(!after.shards.contains { $0.replicas.contains(Self.node(0)) })
        #expect(try RebalancePlanner.plan(after).operations.isEmpty)
    }

    @Test func drainWaitsForALaggingShard() throws {
        var layout = try Self.layout(nodes: 4, placedOn: 4, shards: 8)
        layout.nodes[0].draining = true
        layout.shards[0].lagging = [layout.shards[0].replicas[1]]
        let plan = try RebalancePlanner.plan(layout)
        PlanChecks.check(plan, on: layout)
        #expect(!Self.moves(plan).contains { $0.shard.rawValue == 0 })
        #expect(plan.replicasPerNode[Self.node(0)] == 1)
        #expect(plan.notes.contains { $0.hasPrefix("shard-0 skipped") })
    }

    @Test func drainingImpossible() throws {
        var layout = try Self.layout(nodes: 3, placedOn: 3, shards: 16)
        layout.nodes[0].draining = true
        #expect(throws: RebalanceError.cannotDrain(Self.node(0), shard: ShardID(rawValue: 0), reason: "every live node that is not being drained already holds a replica of it")) {
            try RebalancePlanner.plan(layout)
        }
        // Four nodes, one down: the two other live nodes already hold every shard.
        var four = try Self.layout(nodes: 4, placedOn: 3, shards: 4)
        four.nodes[0].draining = true
        four.nodes[3].live = false
        #expect(throws: RebalanceError.self) { try RebalancePlanner.plan(four) }
        // Two draining nodes of one shard, one free node.
        var two = try Self.layout(nodes: 4, placedOn: 3, shards: 1)
        two.nodes[0].draining = true
        two.nodes[1].draining = true
        #expect(throws: RebalanceError.cannotDrain(Self.node(0), shard: ShardID(rawValue: 0), reason: "2 of its replicas are on draining nodes but only 1 live, non-draining node holds none of it")) {
            try RebalancePlanner.plan(two)
        }
    }

    @Test func invalidLayouts() {
        let a = Self.node(0), b = Self.node(1)
        let nodes = [ClusterLayout.Node(address: a), ClusterLayout.Node(address: b)]
        let cases: [ClusterLayout] = [
            ClusterLayout(nodes: nodes + [ClusterLayout.Node(address: a)], shards: [], replicationFactor: 1),
            ClusterLayout(nodes: nodes, shards: [Self.shard(0, [0, 2])], replicationFactor: 2),
            ClusterLayout(nodes: nodes, shards: [Self.shard(0, [0, 0])], replicationFactor: 2),
            ClusterLayout(nodes: nodes, shards: [Self.shard(0, [0]), Self.shard(0, [1])], replicationFactor: 1),
            ClusterLayout(nodes: nodes, shards: [ClusterLayout.ShardState(id: ShardID(rawValue: 0), replicas: [])], replicationFactor: 1),
            ClusterLayout(nodes: nodes, shards: [], replicationFactor: 0),
        ]
        for layout in cases {
            #expect(throws: RebalanceError.self) { try RebalancePlanner.plan(layout) }
        }
    }

    @Test func applyingMovesAPreferredLeaderToTheEnd() {
        let layout = ClusterLayout(
            nodes: (0..<4).map { ClusterLayout.Node(address: Self.node($0)) },
            shards: [Self.shard(0, [0, 1, 2], lagging: [0])],
            replicationFactor: 3
        )
        let plan = RebalancePlan(operations: [.move(shard: ShardID(rawValue: 0), from: Self.node(0), to: Self.node(3))])
        let after = RebalancePlanner.applying(plan, to: layout)
        #expect(after.shards[0].replicas == [1, 2, 3].map(Self.node))
        #expect(after.shards[0].lagging.isEmpty && after.shards[0].leader == nil)
        let led = RebalancePlanner.applying(RebalancePlan(operations: [.setLeader(shard: ShardID(rawValue: 0), to: Self.node(2))]), to: layout)
        #expect(led.shards[0].replicas == [2, 0, 1].map(Self.node))
        #expect(plan.operations[0].description == "move shard-0 replica 10.0.0.1:7001 -> 10.0.0.4:7001")
    }

    // MARK: Randomized

    /// Healthy clusters (every node live, no lagging replica, some draining): repeated plans
    /// empty every draining node and end balanced within ±1, replicas and leaders alike.
    @Test func randomHealthyLayoutsConvergeBalanced() throws {
        Self.forRandomLayouts(seeds: 0..<250, down: false, lagging: false) { seed, layout, final, last in
            let serving = layout.nodes.filter(\.inService).map(\.address)
            #expect(Self.spread(last.replicasPerNode, over: serving) <= 1, "seed \(seed): \(last.replicasPerNode)")
            #expect(Self.spread(last.leadersPerNode, over: serving) <= 1, "seed \(seed): \(last.leadersPerNode)")
            let draining = Set(layout.nodes.filter(\.draining).map(\.address))
            #expect(final.shards.allSatisfy { draining.isDisjoint(with: $0.replicas) }, "seed \(seed)")
        }
    }

    /// Any cluster (down nodes, lagging replicas, draining nodes, odd replica counts): every plan
    /// keeps the invariants and the safety rules, and the final layout is as even as single
    /// allowed moves can make it.
    @Test func randomLayoutsKeepInvariants() throws {
        Self.forRandomLayouts(seeds: 1000..<1250, down: true, lagging: true) { seed, _, final, _ in
            #expect(RandomLayout.noSingleStepEvensOut(final), "seed \(seed)")
        }
    }

    /// For each seed: a random layout, planned (deterministically) and applied until a plan is
    /// empty (`converge` checks every plan), then `check(seed, layout, final layout, last plan)`.
    /// A layout that cannot be drained must really be impossible to drain.
    static func forRandomLayouts(
        seeds: Range<Int>, down: Bool, lagging: Bool,
        check: (Int, ClusterLayout, ClusterLayout, RebalancePlan) -> Void
    ) {
        var checked = 0
        for seed in seeds {
            var random = XorShift64Star(seed: UInt64(seed))
            let layout = RandomLayout.make(&random, down: down, lagging: lagging)
            guard let (final, plans) = try? converge(layout) else {
                #expect(RandomLayout.drainIsImpossible(layout), "seed \(seed)")
                continue
            }
            checked += 1
            if seed % 5 == 0 {
                #expect((try? RebalancePlanner.plan(layout)) == plans[0], "seed \(seed): not deterministic")
            }
            check(seed, layout, final, plans.last!)
        }
        #expect(checked > seeds.count * 4 / 5)
    }
}

/// Invariants every plan must keep, whatever the layout.
enum PlanChecks {
    static func check(_ plan: RebalancePlan, on layout: ClusterLayout, sourceLocation: SourceLocation = #_sourceLocation) {
        let nodes = Dictionary(uniqueKeysWithValues: layout.nodes.map { ($0.address, $0) })
        let shards = Dictionary(uniqueKeysWithValues: layout.shards.map { ($0.id, $0) })
        var movedShards = Set<ShardID>()
        var leaderChanges = false
        for operation in plan.operations {
            guard let shard = shards[operation.shard] else {
                Issue.record("\(operation): unknown shard", sourceLocation: sourceLocation)
                continue
            }
            switch operation {
            case .move(let id, let from, let to):
                #expect(!leaderChanges, "moves come before leader changes", sourceLocation: sourceLocation)
                #expect(movedShards.insert(id).inserted, "\(id) moves twice", sourceLocation: sourceLocation)
                #expect(shard.replicas.contains(from) && !shard.replicas.contains(to), "\(operation)", sourceLocation: sourceLocation)
                #expect(nodes[to]!.inService, "\(operation): target not in service", sourceLocation: sourceLocation)
                // Safety: a shard moves freely only when every replica is live and caught up;
                // otherwise only a down replica moves, and a majority is live and caught up.
                let lagging = shard.lagging.intersection(shard.replicas)
                let down = shard.replicas.filter { !nodes[$0]!.live }
                if !lagging.isEmpty || !down.isEmpty {
                    let caughtUp = shard.replicas.count { nodes[$0]!.live && !lagging.contains($0) }
                    #expect(!nodes[from]!.live && caughtUp * 2 > shard.replicas.count, "\(operation): unsafe", sourceLocation: sourceLocation)
                }
            case .setLeader:
                leaderChanges = true
            }
        }

        let after = RebalancePlanner.applying(plan, to: layout)
        for (before, shard) in zip(layout.shards, after.shards) {
            #expect(shard.replicas.count == before.replicas.count, "\(shard.id) lost a replica", sourceLocation: sourceLocation)
            #expect(Set(shard.replicas).count == shard.replicas.count, "\(shard.id) has a duplicate", sourceLocation: sourceLocation)
            let eligible = shard.replicas.filter { nodes[$0]!.inService && !before.lagging.contains($0) }
            let preferred = shard.replicas[0]
            if !eligible.isEmpty {
                #expect(eligible.contains(preferred), "\(shard.id): preferred leader \(preferred) is behind or not in service", sourceLocation: sourceLocation)
            } else {
                #expect(preferred == before.replicas[0], "\(shard.id): preferred leader changed with no eligible replica", sourceLocation: sourceLocation)
            }
        }
        // A setLeader only where the preferred leader changes.
        let moves = plan.operations.filter { if case .move = $0 { true } else { false } }
        let afterMoves = RebalancePlanner.applying(RebalancePlan(operations: moves), to: layout)
        for operation in plan.operations {
            if case .setLeader(let id, let to) = operation {
                #expect(afterMoves.shards.first { $0.id == id }!.replicas[0] != to, "\(operation) changes nothing", sourceLocation: sourceLocation)
            }
        }
        let replicas = Dictionary(grouping: after.shards.flatMap(\.replicas), by: { $0 }).mapValues(\.count)
        let leaders = Dictionary(grouping: after.shards.map { $0.replicas[0] }, by: { $0 }).mapValues(\.count)
        for node in layout.nodes {
            #expect(plan.replicasPerNode[node.address] == replicas[node.address] ?? 0, sourceLocation: sourceLocation)
            #expect(plan.leadersPerNode[node.address] == leaders[node.address] ?? 0, sourceLocation: sourceLocation)
        }
    }
}

/// Seeded random layouts for the property tests.
enum RandomLayout {
    static func make(_ random: inout XorShift64Star, down: Bool, lagging: Bool) -> ClusterLayout {
        let nodeCount = Int.random(in: 2...8, using: &random)
        let factor = Int.random(in: 1...min(5, nodeCount), using: &random)
        let shardCount = Int.random(in: 1...12, using: &random)
        let addresses = (0..<nodeCount).map { NodeAddress(host: "10.0.1.\($0 + 1)", port: UInt16(7001 + $0 % 2))! }
        var nodes = addresses.map { ClusterLayout.Node(address: $0) }
        for index in nodes.indices {
            nodes[index].draining = Int.random(in: 0..<8, using: &random) == 0
            if down { nodes[index].live = Int.random(in: 0..<6, using: &random) != 0 }
        }
        // Recently added nodes hold nothing: replicas go to a random prefix of the nodes.
        let holders = Int.random(in: factor...nodeCount, using: &random)
        var shards: [ClusterLayout.ShardState] = []
        for id in 0..<shardCount {
            var count = factor
            if down, Int.random(in: 0..<10, using: &random) == 0 { count = Int.random(in: 1...holders, using: &random) }
            let replicas = Array(addresses[0..<holders].shuffled(using: &random).prefix(count))
            var shard = ClusterLayout.ShardState(id: ShardID(rawValue: id * 3), replicas: replicas)
            if Bool.random(using: &random) { shard.leader = replicas.randomElement(using: &random) }
            if lagging, Int.random(in: 0..<5, using: &random) == 0 { shard.lagging = [replicas.randomElement(using: &random)!] }
            shards.append(shard)
        }
        return ClusterLayout(nodes: nodes.shuffled(using: &random), shards: shards.shuffled(using: &random), replicationFactor: factor)
    }

    /// Whether no single allowed change evens out the loads of two nodes in service that differ by
    /// two or more: moving a replica of a shard whose replicas are all live and caught up, or
    /// handing a preferred leadership to another live, caught-up replica.
    static func noSingleStepEvensOut(_ layout: ClusterLayout) -> Bool {
        let serving = layout.nodes.filter(\.inService).map(\.address)
        let live = Set(layout.nodes.filter(\.live).map(\.address))
        var replicas: [NodeAddress: Int] = [:], leaders: [NodeAddress: Int] = [:]
        for shard in layout.shards {
            for node in shard.replicas { replicas[node, default: 0] += 1 }
            leaders[shard.replicas[0], default: 0] += 1
        }
        for from in serving {
            for to in serving {
                let replicaGap = replicas[from, default: 0] - replicas[to, default: 0] >= 2
                let leaderGap = leaders[from, default: 0] - leaders[to, default: 0] >= 2
                for shard in layout.shards where shard.replicas.contains(from) {
                    let healthy = shard.lagging.isDisjoint(with: shard.replicas) && shard.replicas.allSatisfy(live.contains)
                    if replicaGap, healthy, !shard.replicas.contains(to) { return false }
                    if leaderGap, shard.replicas[0] == from, shard.replicas.contains(to), !shard.lagging.contains(to), !shard.lagging.contains(from) { return false }
                }
            }
        }
        return true
    }

    /// Whether some shard has more replicas on draining nodes than nodes in service without one.
    static func drainIsImpossible(_ layout: ClusterLayout) -> Bool {
        let serving = Set(layout.nodes.filter(\.inService).map(\.address))
        let draining = Set(layout.nodes.filter(\.draining).map(\.address))
        return layout.shards.contains { shard in
            shard.replicas.count { draining.contains($0) } > serving.subtracting(shard.replicas).count
        }
    }
}

/// A small seeded generator (xorshift64*), so random layouts are the same on every run.
struct XorShift64Star: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 2 &+ 1 }  // never zero
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
