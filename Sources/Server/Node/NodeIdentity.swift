import Logging
import MultiRaft
import MyStoreClient
import ShardRouter
#if canImport(Glibc)
import Glibc
#endif

/// Which cluster and node a data directory belongs to, kept in `<data>/IDENTITY`. A founding
/// node's id is its position in the membership file; a node that joined later got its id
/// from the meta group and records, with it, the cluster's founding inputs (bootstrap
/// membership, shard count, replication factor), from which the meta group's log is replayed.
struct NodeIdentity: Sendable, Equatable {
    var clusterID: UInt64
    var nodeID: NodeID
    var address: NodeAddress
    /// Set for nodes that joined a running cluster.
    var joinedNodeID: NodeID?
    var bootstrap: JoinInfo.Bootstrap?
    /// Nodes known at join time (peers to accept before the meta group catches up).
    var knownNodes: [NodeID: NodeAddress] = [:]
    /// Whether this start created the identity (a fresh data directory).
    var isNew = false

    static func clusterID(members: [NodeAddress], shardCount: Int, replicationFactor: Int) -> UInt64 {
        var bytes = Array(members.map(\.description).joined(separator: ",").utf8)
        bytes += Array("/\(shardCount)/\(replicationFactor)".utf8)
        return UInt64(CRC32C.checksum(bytes)) << 32 | UInt64(CRC32C.checksum(bytes.reversed()))
    }

    func encoded() -> String {
        var text = "mystore-data v1\ncluster \(String(clusterID, radix: 16))\nnode \(address)\n"
        if let joinedNodeID, let bootstrap {
            text += "id \(joinedNodeID)\nbootstrap \(bootstrap.members.map(\.description).joined(separator: ","))\n"
            text += "shards \(bootstrap.shardCount)\nreplicas \(bootstrap.replicationFactor)\n"
        }
        return text
    }

    /// Reads `<directory>/IDENTITY`; nil when absent. A directory with other files but no
    /// identity is refused (it is not a MyStore data directory); the `restore` folder that
    /// `mystore restore` lays out for a node's first start is the one exception.
    static func read(directory: String) throws(StartupError) -> NodeIdentity? {
        let path = directory + "/IDENTITY"
        guard FileSystem.exists(path) else {
            let existing = ((try? FileSystem.list(directory)) ?? []).filter { $0 != "IDENTITY.tmp" && $0 != RestoreManifest.directoryName }
            if !existing.isEmpty {
                throw StartupError("\(directory) is not empty and is not a MyStore data directory (found \(existing.prefix(3).joined(separator: ", "))); use an empty directory")
            }
            return nil
        }
        guard let f = try? DurableFile(path: path, mode: .readOnly), let bytes = try? f.readAll() else {
            throw StartupError("\(path): cannot read the data directory's identity file")
        }
        var fields: [String: String] = [:]
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard lines.first == "mystore-data v1" else { throw StartupError("\(path): not a MyStore identity file (first line \"\(lines.first ?? "")\")") }
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { throw StartupError("\(path): malformed line \"\(line)\"") }
            fields[String(parts[0])] = String(parts[1])
        }
        guard let c = fields["cluster"].flatMap({ UInt64($0, radix: 16) }), let a = fields["node"].flatMap({ try? NodeAddress(parsing: $0) }) else {
            throw StartupError("\(path): missing or malformed cluster or node line")
        }
        var identity = NodeIdentity(clusterID: c, nodeID: 0, address: a)
        if let id = fields["id"] {
            guard let n = NodeID(id), let b = fields["bootstrap"], let s = fields["shards"].flatMap({ Int($0) }),
                  let r = fields["replicas"].flatMap({ Int($0) }) else { throw StartupError("\(path): malformed joined-node lines") }
            let members = b.split(separator: ",").compactMap { try? NodeAddress(parsing: String($0)) }
            identity.joinedNodeID = n
            identity.nodeID = n
            identity.bootstrap = JoinInfo.Bootstrap(members: members, shardCount: s, replicationFactor: r)
        }
        return identity
    }

    /// Writes the identity durably (temp file, fsync, rename, directory fsync).
    func write(directory: String) throws(StartupError) {
        let path = directory + "/IDENTITY"
        do {
            try FileSystem.writeDurably(Array(encoded().utf8), to: path)
        } catch {
            throw StartupError("cannot write \(path): \(error)")
        }
    }

    /// The identity of this start: checks an existing one against the plan, or creates one.
    static func establish(plan: StartupPlan, existing: NodeIdentity?, joined: JoinInfo?) throws(StartupError) -> NodeIdentity {
        let expected = clusterID(members: plan.membership.nodes, shardCount: plan.config.shardCount, replicationFactor: plan.config.replicationFactor)
        if var id = existing {
            guard id.address == plan.selfAddress else {
                throw StartupError("\(plan.dataDirectory) belongs to node \(id.address), not \(plan.selfAddress); use an empty data directory or the node's own")
            }
            guard id.clusterID == expected else {
                throw StartupError("\(plan.dataDirectory) belongs to another cluster (its founding membership or shard_count/replication_factor differ from this node's); use an empty data directory or the cluster's own files")
            }
            if id.joinedNodeID == nil {
                guard let k = plan.membership.nodes.firstIndex(of: plan.selfAddress) else {
                    throw StartupError("--self \(plan.selfAddress) is not listed in the membership file and its data directory is not of a joined node")
                }
                id.nodeID = NodeID(k + 1)
            }
            return id
        }
        var id = NodeIdentity(clusterID: expected, nodeID: 0, address: plan.selfAddress, isNew: true)
        if let joined {
            guard joined.clusterID == expected else { throw StartupError("the cluster's identity does not match what it reported at join") }
            id.joinedNodeID = joined.nodeID
            id.nodeID = joined.nodeID
            id.bootstrap = joined.bootstrap
            id.knownNodes = joined.nodes
        } else {
            guard let k = plan.membership.nodes.firstIndex(of: plan.selfAddress) else {
                throw StartupError("--self \(plan.selfAddress) is not listed in the membership file (use --join HOST:PORT to add a node to a running cluster)")
            }
            id.nodeID = NodeID(k + 1)
        }
        try id.write(directory: plan.dataDirectory)
        return id
    }
}

/// What a member tells a node that asks to join (`MYSTORE.JOININFO <address>`).
struct JoinInfo: Sendable, Equatable {
    struct Bootstrap: Sendable, Equatable {
        var members: [NodeAddress]
        var shardCount: Int
        var replicationFactor: Int
    }

    var clusterID: UInt64
    /// 0 while the node is not registered (`mystore node add` not run yet).
    var nodeID: NodeID
    var bootstrap: Bootstrap
    var nodes: [NodeID: NodeAddress]

    /// Asks `member` until this node is registered, printing what the operator must do.
    static func waitForRegistration(of me: NodeAddress, via member: NodeAddress) throws(StartupError) -> JoinInfo {
        var told = false
        while true {
            do {
                let c = try RESPConnection(to: member)
                let reply = try c.send([Array("MYSTORE.JOININFO".utf8), Array(me.description.utf8)])
                c.close()
                let info = try parse(reply)
                if info.nodeID != 0 { return info }
                if !told {
                    Logs.server.notice("\(me) is not a member of the cluster yet; run `mystore node add \(me) --endpoint \(member)`; waiting")
                    told = true
                }
            } catch let e as StartupError {
                throw e
            } catch {
                if !told {
                    Logs.server.warning("cannot reach \(member) to join (\(error)); retrying")
                    told = true
                }
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 500_000_000)
            nanosleep(&ts, nil)
        }
    }

    static func parse(_ reply: RESPReply) throws(StartupError) -> JoinInfo {
        if case .error(let e) = reply { throw StartupError("--join: the member answered: \(e)") }
        guard case .array(let p) = reply, p.count == 6, case .bulkString(let c) = p[0], let cluster = UInt64(String(decoding: c, as: UTF8.self), radix: 16),
              case .integer(let id) = p[1], case .integer(let shards) = p[2], case .integer(let rf) = p[3],
              case .array(let members) = p[4], case .array(let nodes) = p[5] else {
            throw StartupError("--join: the member's answer is not a MyStore join answer")
        }
        var info = JoinInfo(clusterID: cluster, nodeID: NodeID(id), bootstrap: Bootstrap(members: [], shardCount: Int(shards), replicationFactor: Int(rf)), nodes: [:])
        for m in members {
            guard case .bulkString(let b) = m, let a = try? NodeAddress(parsing: String(decoding: b, as: UTF8.self)) else {
                throw StartupError("--join: malformed member address in the answer")
            }
            info.bootstrap.members.append(a)
        }
        for n in nodes {
            guard case .bulkString(let b) = n else { continue }
            let parts = String(decoding: b, as: UTF8.self).split(separator: " ")
            if parts.count == 2, let id = NodeID(parts[0]), let a = try? NodeAddress(parsing: String(parts[1])) { info.nodes[id] = a }
        }
        return info
    }
}
