/// ReadIndex requests waiting for the leader to confirm, with a heartbeat round acknowledged
/// by a quorum, that it is still the leader (Raft thesis §6.4).
struct ReadOnlyQueue: Sendable {
    struct Request: Sendable {
        var index: LogIndex
        var from: ReplicaID
        var context: [UInt8]
        var acks: Set<ReplicaID>
    }

    private(set) var pending: [[UInt8]: Request] = [:]
    private(set) var order: [[UInt8]] = []

    var last: [UInt8]? { order.last }

    /// Adds a request; duplicate contexts are ignored.
    mutating func add(index: LogIndex, from: ReplicaID, context: [UInt8], leader: ReplicaID) {
        guard pending[context] == nil else { return }
        pending[context] = Request(index: index, from: from, context: context, acks: [leader])
        order.append(context)
    }

    /// Records an acknowledgement; returns the acks for `context` so far.
    mutating func ack(_ context: [UInt8], from: ReplicaID) -> Set<ReplicaID>? {
        guard pending[context] != nil else { return nil }
        pending[context]!.acks.insert(from)
        return pending[context]!.acks
    }

    /// Removes and returns every request up to and including `context`: once a later request
    /// is confirmed, the earlier ones are too.
    mutating func release(through context: [UInt8]) -> [Request] {
        guard let pos = order.firstIndex(of: context) else { return [] }
        let done = order[...pos].compactMap { pending.removeValue(forKey: $0) }
        order.removeFirst(pos + 1)
        return done
    }
}
