import ShardRouter

/// The client's cache of which node serves each slot, as `CLUSTER SLOTS` reports it, patched
/// slot by slot as `-MOVED` redirects arrive.
public struct SlotMap: Hashable, Sendable {
    /// One range of slots and the nodes serving it (`CLUSTER SLOTS` order: primary first).
    public struct Entry: Hashable, Sendable {
        public var range: SlotRange
        /// The node that serves writes for the range (the shard's leader).
        public var primary: NodeAddress
        /// The other replicas of the range's shard.
        public var replicas: [NodeAddress]

        public init(range: SlotRange, primary: NodeAddress, replicas: [NodeAddress] = []) {
            self.range = range
            self.primary = primary
            self.replicas = replicas
        }
    }

    /// The ranges as fetched (later `-MOVED` patches change ``owner(of:)`` only).
    public private(set) var entries: [Entry]
    /// Every node named in the map, primaries and replicas, in first-seen order.
    public private(set) var nodes: [NodeAddress]
    /// Per slot: index into `nodes` of its primary, or `unassigned`.
    private var owners: [UInt16]
    private static let unassigned = UInt16.max

    /// A map from ranges; a later entry wins where ranges overlap.
    public init(entries: [Entry]) {
        self.entries = entries
        self.nodes = []
        self.owners = [UInt16](repeating: Self.unassigned, count: Slot.count)
        for entry in entries {
            for node in [entry.primary] + entry.replicas where !nodes.contains(node) { nodes.append(node) }
            let index = nodeIndex(entry.primary)
            for slot in entry.range.first.rawValue...entry.range.last.rawValue { owners[slot] = index }
        }
    }

    /// Parses a `CLUSTER SLOTS` reply: an array of `[start, end, [host, port, id?, ...], replicas...]`.
    /// An empty host means the node that answered (`answeredBy`), as in Redis.
    public init(clusterSlots reply: RESPReply, answeredBy: NodeAddress) throws(ClientError) {
        func bad(_ why: String) -> ClientError { .unexpectedReply(command: "CLUSTER SLOTS", reply: why) }
        guard let ranges = reply.elements else { throw bad("expected an array, got \(reply)") }
        var entries: [Entry] = []
        for item in ranges {
            guard let fields = item.elements, fields.count >= 3,
                  let start = fields[0].integer, let end = fields[1].integer,
                  let range = SlotRange(Int(clamping: start), Int(clamping: end))
            else { throw bad("malformed slot range \(item)") }
            var servers: [NodeAddress] = []
            for server in fields[2...] {
                guard let parts = server.elements, parts.count >= 2, let host = parts[0].text, let port = parts[1].integer,
                      let portNumber = UInt16(exactly: port),
                      let node = NodeAddress(host: host.isEmpty ? answeredBy.host : host, port: portNumber)
                else { throw bad("malformed node \(server) for slots \(range)") }
                servers.append(node)
            }
            entries.append(Entry(range: range, primary: servers[0], replicas: Array(servers.dropFirst())))
        }
        self.init(entries: entries)
    }

    /// Whether no slot has an owner.
    public var isEmpty: Bool { entries.isEmpty }

    /// The node serving `slot`, nil when the map does not cover it.
    public func owner(of slot: Slot) -> NodeAddress? {
        let index = owners[slot.rawValue]
        return index == Self.unassigned ? nil : nodes[Int(index)]
    }

    /// Records that `node` now serves `slot` (what a `-MOVED` says).
    public mutating func assign(_ slot: Slot, to node: NodeAddress) {
        if !nodes.contains(node) { nodes.append(node) }
        owners[slot.rawValue] = nodeIndex(node)
    }

    private func nodeIndex(_ node: NodeAddress) -> UInt16 {
        // At most a few hundred nodes; the map never holds 65535.
        UInt16(clamping: nodes.firstIndex(of: node) ?? Int(Self.unassigned))
    }
}
