/// Identifies a shard (one Raft group of the keyspace). Numbered from 0 at bootstrap.
public struct ShardID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (lhs: ShardID, rhs: ShardID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "shard-\(rawValue)" }
}

/// One shard: the slots it owns and the nodes replicating it.
public struct Shard: Hashable, Sendable {
    /// The shard's identity.
    public let id: ShardID
    /// The slots it owns, sorted and non-overlapping.
    public var slotRanges: [SlotRange]
    /// The nodes holding a replica, distinct. The first is the preferred leader.
    public var replicas: [NodeAddress]
    /// Bumped on every change to this shard's slots or replicas, so a router holding an older
    /// copy can tell that its view is stale. Starts at 1.
    public var epoch: UInt64
    /// The node last known to lead the shard's Raft group, if any; only a hint for routing.
    public var leaderHint: NodeAddress?

    /// A shard value; see the properties for the meaning of each part.
    public init(id: ShardID, slotRanges: [SlotRange], replicas: [NodeAddress], epoch: UInt64 = 1, leaderHint: NodeAddress? = nil) {
        self.id = id
        self.slotRanges = slotRanges
        self.replicas = replicas
        self.epoch = epoch
        self.leaderHint = leaderHint
    }

    /// The replica that should lead when it is healthy (the first replica).
    public var preferredLeader: NodeAddress? { replicas.first }

    /// Number of slots the shard owns.
    public var slotCount: Int { slotRanges.reduce(0) { $0 + $1.count } }

    /// Whether the shard owns `slot`.
    public func owns(_ slot: Slot) -> Bool { slotRanges.contains { $0.contains(slot) } }
}
