/// Which shard owns each slot, and where each shard's replicas are. Every node's router holds
/// a copy; the authoritative one will live in the meta Raft group.
public struct ShardMap: Hashable, Sendable {
    /// The shards, sorted by id.
    public let shards: [Shard]
    /// For each slot number, the index in `shards` of its owner, or -1 when unowned.
    private let ownerIndex: [Int32]

    /// A map from shards. Errors when two shards share an id, a slot, or a shard lists a
    /// replica twice or none at all.
    public init(shards: [Shard]) throws(ShardMapError) {
        let sorted = shards.sorted { $0.id < $1.id }
        var owner = [Int32](repeating: -1, count: Slot.count)
        for (index, shard) in sorted.enumerated() {
            if index > 0, sorted[index - 1].id == shard.id {
                throw .duplicateShard(shard.id)
            }
            if shard.replicas.isEmpty { throw .noReplicas(shard.id) }
            if Set(shard.replicas).count != shard.replicas.count { throw .duplicateReplica(shard.id) }
            for range in shard.slotRanges {
                for slot in range.first.rawValue...range.last.rawValue {
                    if owner[slot] >= 0 {
                        throw .slotOwnedTwice(Slot(rawValue: slot)!, sorted[Int(owner[slot])].id, shard.id)
                    }
                    owner[slot] = Int32(index)
                }
            }
        }
        self.shards = sorted
        self.ownerIndex = owner
    }

    /// The shard owning `slot`, or nil when no shard owns it.
    public func shard(for slot: Slot) -> Shard? {
        let index = ownerIndex[slot.rawValue]
        return index < 0 ? nil : shards[Int(index)]
    }

    /// The shard owning `key`'s slot.
    public func shard<Key: Collection>(forKey key: Key) -> Shard? where Key.Element == UInt8 {
        shard(for: Slot(forKey: key))
    }

    /// The shard with `id`, if present.
    public func shard(id: ShardID) -> Shard? { shards.first { $0.id == id } }

    /// Whether every slot has an owner (a map in service must cover the keyspace).
    public var coversAllSlots: Bool { !ownerIndex.contains(-1) }

    /// Every node that holds at least one replica, sorted.
    public var nodes: [NodeAddress] { Set(shards.flatMap(\.replicas)).sorted() }
}

/// Why a set of shards does not form a valid map.
public enum ShardMapError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Two shards have the same id.
    case duplicateShard(ShardID)
    /// A shard has no replicas.
    case noReplicas(ShardID)
    /// A shard lists the same node twice.
    case duplicateReplica(ShardID)
    /// A slot belongs to two shards.
    case slotOwnedTwice(Slot, ShardID, ShardID)

    public var description: String {
        switch self {
        case .duplicateShard(let id): "\(id) appears more than once in the shard map"
        case .noReplicas(let id): "\(id) has no replicas"
        case .duplicateReplica(let id): "\(id) lists a node more than once among its replicas"
        case .slotOwnedTwice(let slot, let a, let b): "slot \(slot) is owned by both \(a) and \(b)"
        }
    }
}
