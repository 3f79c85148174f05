/// A replica's id inside one Raft group. Never reused: a replica that leaves a group keeps its
/// id retired forever (see `Configuration.retired`). 0 means "none".
public typealias ReplicaID = UInt64
/// A Raft term. Monotonically increasing; 0 before the first election.
public typealias Term = UInt64
/// A position in the replicated log. The first entry has index 1; 0 means "nothing".
public typealias LogIndex = UInt64
/// Identifies one Raft group (a shard or the meta group) on a node.
public typealias GroupID = UInt64
