import ShardRouter

/// Typed helpers for MyStore's commands. Each throws ``ClientError/serverError(_:message:)``
/// when the node answers with an error, and ``ClientError/unexpectedReply(command:reply:)``
/// when the reply does not have the documented shape.
extension ClusterClient {
    /// `SET key value [IFEQ expected] [NX] [PX ms]`, exactly once. True when the value was
    /// set; false when the condition (`ifEqual`, `onlyIfAbsent`) did not hold.
    public func set(
        _ key: [UInt8], _ value: [UInt8],
        ifEqual expected: [UInt8]? = nil, onlyIfAbsent: Bool = false, expireMillis: UInt64? = nil
    ) throws(ClientError) -> Bool {
        if expected != nil, onlyIfAbsent {
            throw .invalidArgument("SET cannot combine IFEQ with NX: a value cannot be both equal to one and absent")
        }
        if expireMillis == 0 { throw .invalidArgument("SET expiry must be at least 1 ms") }
        var command = [Array("SET".utf8), key, value]
        if let expected { command += [Array("IFEQ".utf8), expected] }
        if onlyIfAbsent { command.append(Array("NX".utf8)) }
        if let expireMillis { command += [Array("PX".utf8), Array(String(expireMillis).utf8)] }
        let reply = try checked(try self.command(command), "SET")
        switch reply {
        case .simpleString("OK"): return true
        case .null: return false
        default: throw .unexpectedReply(command: "SET", reply: reply.description)
        }
    }

    /// `GET key`: the value, or nil when the key is absent.
    public func get(_ key: [UInt8]) throws(ClientError) -> [UInt8]? {
        let reply = try checked(try command([Array("GET".utf8), key]), "GET")
        switch reply {
        case .bulkString(let value): return value
        case .null: return nil
        default: throw .unexpectedReply(command: "GET", reply: reply.description)
        }
    }

    /// Deletes `keys`, returning how many existed. Keys are grouped by slot and each group is
    /// one exactly-once `DEL` (a shard cannot delete another shard's keys atomically).
    public func delete(_ keys: [[UInt8]]) throws(ClientError) -> Int {
        var groups: [Slot: [[UInt8]]] = [:]
        var order: [Slot] = []
        for key in keys {
            let slot = Slot(forKey: key)
            if groups[slot] == nil { order.append(slot) }
            groups[slot, default: []].append(key)
        }
        var deleted = 0
        for slot in order {
            let reply = try checked(try command([Array("DEL".utf8)] + (groups[slot] ?? [])), "DEL")
            guard case .integer(let count) = reply else { throw .unexpectedReply(command: "DEL", reply: reply.description) }
            deleted += Int(count)
        }
        return deleted
    }

    /// `INCRBY key delta`, exactly once: the value after the increment.
    public func incr(_ key: [UInt8], by delta: Int64 = 1) throws(ClientError) -> Int64 {
        let reply = try checked(try command([Array("INCRBY".utf8), key, Array(String(delta).utf8)]), "INCRBY")
        guard case .integer(let value) = reply else { throw .unexpectedReply(command: "INCRBY", reply: reply.description) }
        return value
    }

    /// `MYSTORE.HISTORY key limit`: the key's most recent values with the log index that wrote
    /// each (nil value: deleted), as the server orders them. Reply: an array of
    /// `[integer index, bulk value or null]`.
    public func history(_ key: [UInt8], limit: Int) throws(ClientError) -> [(index: UInt64, value: [UInt8]?)] {
        guard limit > 0 else { throw .invalidArgument("history limit must be at least 1, got \(limit)") }
        let reply = try checked(try command([Array("MYSTORE.HISTORY".utf8), key, Array(String(limit).utf8)]), "MYSTORE.HISTORY")
        guard let items = reply.elements else { throw .unexpectedReply(command: "MYSTORE.HISTORY", reply: reply.description) }
        var entries: [(index: UInt64, value: [UInt8]?)] = []
        for item in items {
            guard let pair = item.elements, pair.count == 2,
                  case .integer(let index) = pair[0], let logIndex = UInt64(exactly: index)
            else { throw .unexpectedReply(command: "MYSTORE.HISTORY", reply: item.description) }
            switch pair[1] {
            case .bulkString(let value): entries.append((logIndex, value))
            case .null: entries.append((logIndex, nil))
            default: throw .unexpectedReply(command: "MYSTORE.HISTORY", reply: item.description)
            }
        }
        return entries
    }

    /// `MYSTORE.STATUS` on one node: a JSON object describing the node and its shard replicas
    /// (`{"node":..., "health":..., "shards":[{"shard":..., "role":..., "term":..., "applied":...,
    /// "commit":..., "leader":...}]}`), as raw UTF-8 bytes.
    public func status(_ node: NodeAddress) throws(ClientError) -> [UInt8] {
        let reply = try command([Array("MYSTORE.STATUS".utf8)], on: node)
        if let message = reply.errorMessage { throw .serverError(node, message: message) }
        guard case .bulkString(let json) = reply else { throw .unexpectedReply(command: "MYSTORE.STATUS", reply: reply.description) }
        return json
    }

    /// The cluster's shards: from `CLUSTER SHARDS`, or grouped from `CLUSTER SLOTS` when a
    /// node does not know `CLUSTER SHARDS`.
    public func shards() throws(ClientError) -> [ClusterShard] {
        let reply = try command(ClusterCommands.shards)
        if reply.errorMessage == nil {
            return try ClusterShard.parse(clusterShards: reply)
        }
        let slots = try checked(try command(ClusterCommands.slots), "CLUSTER SLOTS")
        return ClusterShard.grouping(try SlotMap(clusterSlots: slots, answeredBy: seeds[0]))
    }

    /// `reply`, unless it is an error reply, which is thrown.
    private func checked(_ reply: RESPReply, _ command: String) throws(ClientError) -> RESPReply {
        if let message = reply.errorMessage { throw .serverError(nil, message: message) }
        return reply
    }
}
