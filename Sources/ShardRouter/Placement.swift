/// The initial shard map of a fresh cluster, computed from the membership and config alone so
/// every node derives the same map at boot with no coordination.
public enum Placement {
    /// Valid shard counts: at least one shard, at most one slot per shard.
    public static let shardCountRange = 1...Slot.count

    /// Splits the slots into `shardCount` contiguous ranges of even size (sizes differ by at
    /// most one; shard 0 starts at slot 0) and places `replicationFactor` replicas of each.
    ///
    /// Preferred leaders rotate round-robin over `nodes` (shard `i` prefers `nodes[i % n]`);
    /// the other replicas go, shard by shard, to the nodes with the fewest replicas (counting
    /// every node's leaderships from the start), ties broken by position after the leader in
    /// `nodes`. The result: every node holds an even share of replicas and of preferred
    /// leaderships (each within one of the others; `PlacementTests` checks this exhaustively
    /// for small clusters).
    public static func initial(
        nodes: [NodeAddress],
        shardCount: Int,
        replicationFactor: Int
    ) throws(PlacementError) -> ShardMap {
        guard shardCountRange.contains(shardCount) else {
            throw .shardCountOutOfRange(shardCount)
        }
        guard !nodes.isEmpty else { throw .noNodes }
        guard Set(nodes).count == nodes.count else { throw .duplicateNodes }
        guard replicationFactor >= 1, replicationFactor <= nodes.count else {
            throw .replicationFactorOutOfRange(replicationFactor, nodeCount: nodes.count)
        }

        // Preferred leaders are fixed first, round-robin, and counted as load up front, so
        // follower choices below already see every node's final leader share.
        var load = [Int](repeating: 0, count: nodes.count)
        for shardIndex in 0..<shardCount { load[shardIndex % nodes.count] += 1 }

        var shards: [Shard] = []
        shards.reserveCapacity(shardCount)
        for shardIndex in 0..<shardCount {
            let leader = shardIndex % nodes.count
            // Least-loaded first; ties go to the nodes right after the leader, so they rotate.
            let followers = (1..<nodes.count)
                .map { (leader + $0) % nodes.count }
                .enumerated()
                .sorted { (load[$0.element], $0.offset) < (load[$1.element], $1.offset) }
                .prefix(replicationFactor - 1)
                .map(\.element)
            for follower in followers { load[follower] += 1 }

            shards.append(Shard(
                id: ShardID(rawValue: shardIndex),
                slotRanges: [slotRange(ofShard: shardIndex, shardCount: shardCount)],
                replicas: ([leader] + followers).map { nodes[$0] }
            ))
        }
        do {
            return try ShardMap(shards: shards)
        } catch {
            preconditionFailure("initial placement built an invalid shard map: \(error)")
        }
    }

    /// Slots of shard `index` when the keyspace is split evenly into `shardCount` ranges.
    static func slotRange(ofShard index: Int, shardCount: Int) -> SlotRange {
        let first = index * Slot.count / shardCount
        let last = (index + 1) * Slot.count / shardCount - 1
        return SlotRange(first, last)!
    }
}

/// Why an initial placement cannot be computed.
public enum PlacementError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The shard count is outside `1...16384`.
    case shardCountOutOfRange(Int)
    /// The replication factor is below 1 or above the number of nodes.
    case replicationFactorOutOfRange(Int, nodeCount: Int)
    /// The node list is empty.
    case noNodes
    /// The node list names a node twice.
    case duplicateNodes

    public var description: String {
        switch self {
        case .shardCountOutOfRange(let count):
            "shard_count \(count) is out of range (must be 1-\(Slot.count))"
        case .replicationFactorOutOfRange(let factor, let nodeCount):
            "replication_factor \(factor) is out of range (must be 1-\(nodeCount): at most one replica per node, and the membership lists \(nodeCount) node\(nodeCount == 1 ? "" : "s"))"
        case .noNodes:
            "no nodes to place shards on"
        case .duplicateNodes:
            "the node list names a node more than once"
        }
    }
}
