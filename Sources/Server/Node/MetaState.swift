import KVStore
import MultiRaft
import ShardRouter

/// The cluster's layout as the meta group replicates it: the nodes (with their ids and
/// states), the shard map, the replica id of every shard replica, and the queue of replica
/// moves the rebalancer works through. The membership file only seeds it at bootstrap.
struct MetaState: Sendable, Equatable {
    enum NodeState: UInt8, Sendable, CustomStringConvertible {
        case active = 0, draining = 1, removed = 2
        var description: String { ["active", "draining", "removed"][Int(rawValue)] }
    }

    struct Node: Sendable, Equatable {
        var id: NodeID
        var address: NodeAddress
        var state: NodeState
    }

    /// Moving one replica of a shard from one node to another: `replica` is the new replica's
    /// id (fresh, never used in the group before), `fromReplica` the one it replaces.
    struct Move: Sendable, Equatable {
        var shard: ShardID
        var from: NodeID
        var to: NodeID
        var fromReplica: ReplicaID
        var replica: ReplicaID
        /// The new replica becomes the shard's preferred leader once the move finishes.
        var preferred = false
    }

    var nodes: [NodeID: Node]
    var nextNodeID: NodeID
    var map: ShardMap
    /// Replica id of each shard's replica on each node.
    var replicaIDs: [ShardID: [NodeID: ReplicaID]]
    var moves: [Move]
    var nextIncarnation: UInt64
    /// Moves finished since bootstrap (for progress reports).
    var movesDone: UInt64 = 0

    /// The state every node derives at bootstrap from the membership and config.
    init(bootstrap members: [NodeAddress], map: ShardMap) {
        var nodes: [NodeID: Node] = [:]
        for (i, a) in members.enumerated() { nodes[NodeID(i + 1)] = Node(id: NodeID(i + 1), address: a, state: .active) }
        self.nodes = nodes
        nextNodeID = NodeID(members.count + 1)
        self.map = map
        var ids: [ShardID: [NodeID: ReplicaID]] = [:]
        for s in map.shards {
            for a in s.replicas { if let n = nodes.values.first(where: { $0.address == a }) { ids[s.id, default: [:]][n.id] = ReplicaID(n.id) } }
        }
        replicaIDs = ids
        moves = []
        nextIncarnation = 1
    }

    // MARK: - Queries

    func node(at address: NodeAddress) -> Node? { nodes.values.first { $0.address == address && $0.state != .removed } }

    /// Addresses of every node not removed.
    var addresses: [NodeID: NodeAddress] {
        var out: [NodeID: NodeAddress] = [:]
        for n in nodes.values where n.state != .removed { out[n.id] = n.address }
        return out
    }

    func replicas(of shard: ShardID) -> [NodeID] {
        (map.shard(id: shard)?.replicas ?? []).compactMap { node(at: $0)?.id }
    }

    func move(of shard: ShardID) -> Move? { moves.first { $0.shard == shard } }

    // MARK: - Commands (entries of the meta group)

    enum Command {
        case registerNode(NodeAddress)
        case setNodeState(NodeID, NodeState)
        case enqueueMoves([(shard: ShardID, from: NodeID, to: NodeID)])
        case finishMove(ShardID, replica: ReplicaID)
        case abortMove(ShardID, replica: ReplicaID)
        case setPreferredLeader(ShardID, NodeID)

        func encoded() -> [UInt8] {
            var w = BinaryWriter()
            switch self {
            case .registerNode(let a):
                w.write(UInt8(10))
                w.writeBlob(Array(a.description.utf8))
            case .setNodeState(let id, let st):
                w.write(UInt8(11))
                w.write(id)
                w.write(st.rawValue)
            case .enqueueMoves(let list):
                w.write(UInt8(12))
                w.write(UInt32(list.count))
                for m in list {
                    w.write(UInt64(m.shard.rawValue))
                    w.write(m.from)
                    w.write(m.to)
                }
            case .finishMove(let s, let r):
                w.write(UInt8(13))
                w.write(UInt64(s.rawValue))
                w.write(r)
            case .abortMove(let s, let r):
                w.write(UInt8(14))
                w.write(UInt64(s.rawValue))
                w.write(r)
            case .setPreferredLeader(let s, let n):
                w.write(UInt8(15))
                w.write(UInt64(s.rawValue))
                w.write(n)
            }
            return w.bytes
        }

        static func decode(_ bytes: [UInt8]) throws -> Command {
            var r = BinaryReader(bytes)
            switch try r.readUInt8() {
            case 10: return .registerNode(try NodeAddress(parsing: String(decoding: try r.readBlob(limit: 300), as: UTF8.self)))
            case 11:
                let id = try r.readUInt64()
                guard let st = NodeState(rawValue: try r.readUInt8()) else { throw DecodeError("unknown node state") }
                return .setNodeState(id, st)
            case 12:
                let n = try r.readUInt32()
                guard n <= 100_000 else { throw DecodeError("too many moves") }
                var list: [(shard: ShardID, from: NodeID, to: NodeID)] = []
                for _ in 0..<n { list.append((ShardID(rawValue: Int(try r.readUInt64())), try r.readUInt64(), try r.readUInt64())) }
                return .enqueueMoves(list)
            case 13: return .finishMove(ShardID(rawValue: Int(try r.readUInt64())), replica: try r.read())
            case 14: return .abortMove(ShardID(rawValue: Int(try r.readUInt64())), replica: try r.read())
            case 15: return .setPreferredLeader(ShardID(rawValue: Int(try r.readUInt64())), try r.readUInt64())
            case let k: throw DecodeError("unknown meta command \(k)")
            }
        }
    }

    /// Applies one command; the result goes back to the proposer. Deterministic: every
    /// replica reaches the same state.
    mutating func apply(_ command: Command) -> KVResult {
        switch command {
        case .registerNode(let a):
            if let n = node(at: a) { return .integer(Int64(n.id)) }
            guard nextNodeID <= ReplicaIDs.maxNode else { return .error("ERR node ids exhausted") }
            let id = nextNodeID
            nextNodeID += 1
            nodes[id] = Node(id: id, address: a, state: .active)
            return .integer(Int64(id))
        case .setNodeState(let id, let st):
            guard nodes[id] != nil else { return .error("ERR no node \(id)") }
            nodes[id]!.state = st
            return .ok
        case .enqueueMoves(let list):
            var added = 0
            for m in list {
                guard let shard = map.shard(id: m.shard), move(of: m.shard) == nil,
                      let from = nodes[m.from], let to = nodes[m.to], to.state == .active,
                      shard.replicas.contains(from.address), !shard.replicas.contains(to.address),
                      let fromReplica = replicaIDs[m.shard]?[m.from] else { continue }
                let replica = ReplicaIDs.make(node: m.to, incarnation: nextIncarnation)
                nextIncarnation += 1
                moves.append(Move(shard: m.shard, from: m.from, to: m.to, fromReplica: fromReplica, replica: replica))
                added += 1
            }
            return .integer(Int64(added))
        case .finishMove(let s, let r):
            guard let k = moves.firstIndex(where: { $0.shard == s && $0.replica == r }), let fromNode = nodes[moves[k].from],
                  let toNode = nodes[moves[k].to] else { return .error("ERR no such move") }
            let m = moves.remove(at: k)
            var shards = map.shards
            if let i = shards.firstIndex(where: { $0.id == s }), let j = shards[i].replicas.firstIndex(of: fromNode.address) {
                // The new replica goes last (the next one becomes preferred leader if the old
                // replica was), unless a leader change asked for it: then it goes first. The
                // planner reasons the same way.
                shards[i].replicas.remove(at: j)
                if m.preferred { shards[i].replicas.insert(toNode.address, at: 0) } else { shards[i].replicas.append(toNode.address) }
                shards[i].epoch += 1
                if let next = try? ShardMap(shards: shards) { map = next }
            }
            replicaIDs[s]?[m.from] = nil
            replicaIDs[s, default: [:]][m.to] = m.replica
            movesDone += 1
            return .ok
        case .abortMove(let s, let r):
            moves.removeAll { $0.shard == s && $0.replica == r }
            return .ok
        case .setPreferredLeader(let s, let n):
            guard let a = nodes[n]?.address else { return .error("ERR no node \(n)") }
            var shards = map.shards
            if let k = moves.firstIndex(where: { $0.shard == s && $0.to == n }) {
                // The node is still receiving its replica: it leads once the move is done.
                moves[k].preferred = true
                return .ok
            }
            guard let i = shards.firstIndex(where: { $0.id == s }), let j = shards[i].replicas.firstIndex(of: a) else {
                return .error("ERR node \(n) holds no replica of shard \(s.rawValue)")
            }
            guard j != 0 else { return .ok }
            shards[i].replicas.remove(at: j)
            shards[i].replicas.insert(a, at: 0)
            shards[i].epoch += 1
            if let next = try? ShardMap(shards: shards) { map = next }
            return .ok
        }
    }

    // MARK: - Snapshot encoding

    static let formatVersion: UInt8 = 2

    func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(Self.formatVersion)
        w.write(nextNodeID)
        w.write(nextIncarnation)
        w.write(movesDone)
        w.write(UInt32(nodes.count))
        for n in nodes.values.sorted(by: { $0.id < $1.id }) {
            w.write(n.id)
            w.writeBlob(Array(n.address.description.utf8))
            w.write(n.state.rawValue)
        }
        w.write(UInt32(map.shards.count))
        for s in map.shards {
            w.write(UInt64(s.id.rawValue))
            w.write(s.epoch)
            w.write(UInt32(s.slotRanges.count))
            for r in s.slotRanges {
                w.write(UInt32(r.first.rawValue))
                w.write(UInt32(r.last.rawValue))
            }
            w.write(UInt32(s.replicas.count))
            for a in s.replicas { w.writeBlob(Array(a.description.utf8)) }
            let ids = replicaIDs[s.id] ?? [:]
            w.write(UInt32(ids.count))
            for (n, r) in ids.sorted(by: { $0.key < $1.key }) {
                w.write(n)
                w.write(r)
            }
        }
        w.write(UInt32(moves.count))
        for m in moves {
            w.write(UInt64(m.shard.rawValue))
            w.write(m.from)
            w.write(m.to)
            w.write(m.fromReplica)
            w.write(m.replica)
            w.write(UInt8(m.preferred ? 1 : 0))
        }
        return w.bytes
    }

    init(decoding bytes: [UInt8]) throws {
        var r = BinaryReader(bytes)
        let version = try r.readUInt8()
        guard version == Self.formatVersion else { throw DecodeError("meta snapshot format \(version) is not \(Self.formatVersion)") }
        nextNodeID = try r.readUInt64()
        nextIncarnation = try r.readUInt64()
        movesDone = try r.readUInt64()
        var nodes: [NodeID: Node] = [:]
        for _ in 0..<(try r.readUInt32()) {
            let id = try r.readUInt64()
            let a = try NodeAddress(parsing: String(decoding: try r.readBlob(limit: 300), as: UTF8.self))
            guard let st = NodeState(rawValue: try r.readUInt8()) else { throw DecodeError("meta snapshot: bad node state") }
            nodes[id] = Node(id: id, address: a, state: st)
        }
        self.nodes = nodes
        var shards: [Shard] = []
        var ids: [ShardID: [NodeID: ReplicaID]] = [:]
        for _ in 0..<(try r.readUInt32()) {
            let id = ShardID(rawValue: Int(try r.readUInt64())), epoch = try r.readUInt64()
            var ranges: [SlotRange] = []
            for _ in 0..<(try r.readUInt32()) {
                guard let range = SlotRange(Int(try r.readUInt32()), Int(try r.readUInt32())) else {
                    throw DecodeError("meta snapshot: bad slot range")
                }
                ranges.append(range)
            }
            var replicas: [NodeAddress] = []
            for _ in 0..<(try r.readUInt32()) {
                replicas.append(try NodeAddress(parsing: String(decoding: try r.readBlob(limit: 300), as: UTF8.self)))
            }
            for _ in 0..<(try r.readUInt32()) { ids[id, default: [:]][try r.readUInt64()] = try r.read() }
            shards.append(Shard(id: id, slotRanges: ranges, replicas: replicas, epoch: epoch))
        }
        map = try ShardMap(shards: shards)
        replicaIDs = ids
        var moves: [Move] = []
        for _ in 0..<(try r.readUInt32()) {
            moves.append(Move(shard: ShardID(rawValue: Int(try r.readUInt64())), from: try r.readUInt64(), to: try r.readUInt64(),
                              fromReplica: try r.read(), replica: try r.read(), preferred: try r.readUInt8() == 1))
        }
        self.moves = moves
    }
}

/// The meta group's state machine: applies `MetaState` commands and tells the node about
/// every change (routing, peers and the rebalancer read the latest state).
final class MetaMachine: GroupStateMachine {
    private(set) var state: MetaState
    let onChange: @Sendable (MetaState) -> Void

    init(initial: MetaState, onChange: @escaping @Sendable (MetaState) -> Void) {
        state = initial
        self.onChange = onChange
    }

    func apply(index: LogIndex, data: [UInt8]) -> any Sendable {
        let result: KVResult
        do {
            result = state.apply(try MetaState.Command.decode(data))
        } catch {
            return KVResult.error("ERR malformed meta command: \(error)")
        }
        onChange(state)
        return result
    }

    func writeSnapshot(to sink: ([UInt8]) throws -> Void) throws { try sink(state.encoded()) }

    func restore(from source: () throws -> [UInt8]?) throws {
        var all: [UInt8] = []
        while let c = try source() { all += c }
        state = try MetaState(decoding: all)
        onChange(state)
    }
}
