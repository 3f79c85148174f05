import ShardRouter

/// One shard as the cluster reports it: its slot ranges and the nodes holding its replicas.
public struct ClusterShard: Hashable, Sendable {
    /// A node holding a replica of the shard.
    public struct Replica: Hashable, Sendable {
        public var node: NodeAddress
        /// `master`/`leader` for the node serving writes, otherwise `replica` or similar.
        public var role: String
        /// `online`, `failed`, `loading`, ...; nil when the cluster does not say.
        public var health: String?

        public init(node: NodeAddress, role: String, health: String? = nil) {
            self.node = node
            self.role = role
            self.health = health
        }

        /// Whether this replica serves the shard's writes.
        public var isLeader: Bool { role == "master" || role == "leader" || role == "primary" }
    }

    public var slotRanges: [SlotRange]
    public var replicas: [Replica]

    public init(slotRanges: [SlotRange], replicas: [Replica]) {
        self.slotRanges = slotRanges
        self.replicas = replicas
    }

    /// The replica serving writes, if the report names one.
    public var leader: Replica? { replicas.first(where: \.isLeader) }

    /// Parses a `CLUSTER SHARDS` reply: per shard a flat array of field/value pairs with
    /// `slots` (start, end, start, end, ...) and `nodes` (each a flat field/value array with
    /// `ip`/`endpoint`/`hostname`, `port`, `role`, `health`).
    public static func parse(clusterShards reply: RESPReply) throws(ClientError) -> [ClusterShard] {
        func bad(_ why: String) -> ClientError { .unexpectedReply(command: "CLUSTER SHARDS", reply: why) }
        guard let items = reply.elements else { throw bad("expected an array, got \(reply)") }
        var shards: [ClusterShard] = []
        for item in items {
            guard let fields = fieldMap(item), let slotList = fields["slots"]?.elements, slotList.count % 2 == 0 else {
                throw bad("malformed shard \(item)")
            }
            var ranges: [SlotRange] = []
            for pair in stride(from: 0, to: slotList.count, by: 2) {
                guard let first = slotList[pair].integer, let last = slotList[pair + 1].integer,
                      let range = SlotRange(Int(clamping: first), Int(clamping: last))
                else { throw bad("malformed slot range in \(item)") }
                ranges.append(range)
            }
            var replicas: [Replica] = []
            for nodeItem in fields["nodes"]?.elements ?? [] {
                guard let node = fieldMap(nodeItem),
                      let host = [node["endpoint"], node["ip"], node["hostname"]].lazy.compactMap({ $0?.text }).first(where: { !$0.isEmpty && $0 != "?" }),
                      let port = (node["port"] ?? node["tls-port"])?.integer, let portNumber = UInt16(exactly: port),
                      let address = NodeAddress(host: host, port: portNumber)
                else { throw bad("malformed node \(nodeItem)") }
                replicas.append(Replica(node: address, role: node["role"]?.text ?? "unknown", health: node["health"]?.text))
            }
            shards.append(ClusterShard(slotRanges: ranges, replicas: replicas))
        }
        return shards
    }

    /// Shards from a slot map: ranges served by the same primary and replicas form one shard.
    public static func grouping(_ map: SlotMap) -> [ClusterShard] {
        var shards: [ClusterShard] = []
        for entry in map.entries {
            let replicas = [Replica(node: entry.primary, role: "master")] + entry.replicas.map { Replica(node: $0, role: "replica") }
            if let index = shards.firstIndex(where: { $0.replicas == replicas }) {
                shards[index].slotRanges.append(entry.range)
            } else {
                shards.append(ClusterShard(slotRanges: [entry.range], replicas: replicas))
            }
        }
        return shards
    }

    /// A RESP2 "map": a flat array of alternating field names and values.
    private static func fieldMap(_ reply: RESPReply) -> [String: RESPReply]? {
        guard let elements = reply.elements, elements.count % 2 == 0 else { return nil }
        var fields: [String: RESPReply] = [:]
        for index in stride(from: 0, to: elements.count, by: 2) {
            guard let name = elements[index].text else { return nil }
            fields[name] = elements[index + 1]
        }
        return fields
    }
}
