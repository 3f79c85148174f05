import Testing
@testable import ShardRouter

@Suite("Initial placement")
struct PlacementTests {
    static func nodes(_ count: Int) -> [NodeAddress] {
        (0..<count).map { NodeAddress(host: "10.0.0.\($0 + 1)", port: 7001)! }
    }

    @Test func threeNodesSixteenShards() throws {
        let map = try Placement.initial(nodes: Self.nodes(3), shardCount: 16, replicationFactor: 3)
        #expect(map.shards.count == 16)
        #expect(map.coversAllSlots)
        #expect(map.shards[0].slotRanges == [SlotRange(0, 1023)!])
        #expect(map.shards[15].slotRanges == [SlotRange(15360, 16383)!])
        #expect(map.shards.allSatisfy { $0.replicas.count == 3 && $0.epoch == 1 && $0.leaderHint == nil })
        #expect(map.shard(forKey: Array("foo".utf8))?.id == ShardID(rawValue: 12182 / 1024))
    }

    @Test func isDeterministic() throws {
        let a = try Placement.initial(nodes: Self.nodes(5), shardCount: 37, replicationFactor: 3)
        let b = try Placement.initial(nodes: Self.nodes(5), shardCount: 37, replicationFactor: 3)
        #expect(a == b)
    }

    /// Every combination of small cluster sizes: slots even and contiguous, replicas and
    /// preferred leaders even across nodes (±1), replicas of a shard distinct.
    @Test func evenSpreadForAllSmallShapes() throws {
        for nodeCount in 1...7 {
            for factor in 1...nodeCount {
                for shardCount in [1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64, 100] {
                    let nodes = Self.nodes(nodeCount)
                    let map = try Placement.initial(nodes: nodes, shardCount: shardCount, replicationFactor: factor)
                    let shape = "nodes=\(nodeCount) rf=\(factor) shards=\(shardCount)"
                    #expect(map.coversAllSlots, "\(shape)")

                    var next = 0
                    let sizes = map.shards.map(\.slotCount)
                    for shard in map.shards {
                        #expect(shard.slotRanges.count == 1)
                        #expect(shard.slotRanges[0].first.rawValue == next, "\(shape)")
                        next = shard.slotRanges[0].last.rawValue + 1
                        #expect(Set(shard.replicas).count == factor, "\(shape)")
                    }
                    #expect(sizes.max()! - sizes.min()! <= 1, "\(shape)")

                    let replicas = nodes.map { node in map.shards.filter { $0.replicas.contains(node) }.count }
                    let leaders = nodes.map { node in map.shards.filter { $0.preferredLeader == node }.count }
                    #expect(replicas.max()! - replicas.min()! <= 1, "\(shape) replicas \(replicas)")
                    #expect(leaders.max()! - leaders.min()! <= 1, "\(shape) leaders \(leaders)")
                }
            }
        }
    }

    @Test func rejectsBadShapes() {
        #expect(throws: PlacementError.replicationFactorOutOfRange(4, nodeCount: 3)) {
            try Placement.initial(nodes: Self.nodes(3), shardCount: 16, replicationFactor: 4)
        }
        #expect(throws: PlacementError.replicationFactorOutOfRange(0, nodeCount: 3)) {
            try Placement.initial(nodes: Self.nodes(3), shardCount: 16, replicationFactor: 0)
        }
        #expect(throws: PlacementError.shardCountOutOfRange(0)) {
            try Placement.initial(nodes: Self.nodes(3), shardCount: 0, replicationFactor: 1)
        }
        #expect(throws: PlacementError.shardCountOutOfRange(16385)) {
            try Placement.initial(nodes: Self.nodes(3), shardCount: 16385, replicationFactor: 1)
        }
        #expect(throws: PlacementError.noNodes) {
            try Placement.initial(nodes: [], shardCount: 1, replicationFactor: 1)
        }
    }

    @Test func oneSlotPerShardAtTheLimit() throws {
        let map = try Placement.initial(nodes: Self.nodes(3), shardCount: 16384, replicationFactor: 2)
        #expect(map.shards.allSatisfy { $0.slotCount == 1 })
    }
}

@Suite("ShardMap validation")
struct ShardMapTests {
    @Test func rejectsOverlappingSlots() {
        let node = NodeAddress(host: "a", port: 1)!
        let shards = [
            Shard(id: ShardID(rawValue: 0), slotRanges: [SlotRange(0, 10)!], replicas: [node]),
            Shard(id: ShardID(rawValue: 1), slotRanges: [SlotRange(10, 20)!], replicas: [node]),
        ]
        #expect(throws: ShardMapError.slotOwnedTwice(Slot(rawValue: 10)!, ShardID(rawValue: 0), ShardID(rawValue: 1))) {
            try ShardMap(shards: shards)
        }
    }

    @Test func partialMapLeavesSlotsUnowned() throws {
        let node = NodeAddress(host: "a", port: 1)!
        let map = try ShardMap(shards: [Shard(id: ShardID(rawValue: 0), slotRanges: [SlotRange(0, 10)!], replicas: [node])])
        #expect(!map.coversAllSlots)
        #expect(map.shard(for: Slot(rawValue: 11)!) == nil)
        #expect(map.shard(for: Slot(rawValue: 3)!)?.id == ShardID(rawValue: 0))
    }
}
