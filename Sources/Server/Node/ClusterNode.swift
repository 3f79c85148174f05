import KVStore
import MultiRaft
import NIOCore
import ShardRouter
#if canImport(Glibc)
import Glibc
#endif

/// One running MyStore node: the Raft host with the meta group and this node's shard
/// replicas, the peer transport, and the router that serves client commands.
final class ClusterNode: @unchecked Sendable {
    let plan: StartupPlan
    let selfID: NodeID
    /// Node ids are positions in the membership file, from 1.
    let addresses: [NodeID: NodeAddress]
    let host: RaftHost
    let transport: PeerTransport
    let shardMap: ShardMap
    let clusterID: UInt64

    /// The meta group holds the shard map; shard k is group k + 1.
    static let metaGroup: GroupID = 0
    static func group(of shard: ShardID) -> GroupID { GroupID(shard.rawValue + 1) }
    /// The meta group's voters: the first five members.
    static let maxMetaVoters = 5

    let eventLoop: any EventLoop

    init(plan: StartupPlan, eventLoops: any EventLoopGroup) throws(StartupError) {
        self.plan = plan
        eventLoop = eventLoops.next()
        var addresses: [NodeID: NodeAddress] = [:]
        for (i, a) in plan.membership.nodes.enumerated() { addresses[NodeID(i + 1)] = a }
        self.addresses = addresses
        selfID = addresses.first { $0.value == plan.selfAddress }!.key
        shardMap = plan.shardMap
        clusterID = Self.clusterID(plan)

        let data = plan.dataDirectory
        try Self.checkIdentity(directory: data, clusterID: clusterID, selfAddress: plan.selfAddress)
        let wal: WriteAheadLog
        do {
            var walSettings = WALSettings(directory: data + "/wal")
            walSettings.plantedSkipWrites = plan.plantedBugs.skipWAL
            wal = try WriteAheadLog(settings: walSettings)
        } catch {
            throw StartupError("cannot recover the write-ahead log: \(error)")
        }
        for n in wal.recoveryNotes { Console.out("mystore-server: \(n)") }
        wal.onSync = { NodeMetrics.shared.walSynced(seconds: $0, records: $1) }

        var peers: [NodeID: (host: String, port: Int)] = [:]
        for (id, a) in addresses where id != selfID { peers[id] = (a.host, Int(a.port) + plan.config.peerPortOffset) }
        transport = PeerTransport(selfNode: selfID, clusterID: clusterID, peers: peers, group: eventLoops)

        var settings = HostSettings()
        settings.tickMillis = plan.config.tickIntervalMilliseconds
        settings.raft.electionTicks = plan.config.electionTicks
        settings.raft.heartbeatTicks = plan.config.heartbeatTicks
        settings.raft.plantedBugs = plan.plantedBugs.raft
        settings.snapshotEntries = UInt64(plan.config.snapshotEntries)
        settings.snapshotLogBytes = UInt64(plan.config.snapshotLogBytes)
        settings.keepTrailingEntries = UInt64(plan.config.snapshotTrailingEntries)
        settings.requestTimeoutMillis = plan.config.requestTimeoutMilliseconds
        host = RaftHost(node: selfID, settings: settings, wal: wal, snapshotDirectory: data + "/snapshots", transport: transport)

        var nodeOf: [ReplicaID: NodeID] = [:]
        for id in addresses.keys { nodeOf[ReplicaID(id)] = id }
        do {
            let metaVoters = addresses.keys.sorted().prefix(Self.maxMetaVoters).map { ReplicaID($0) }
            if metaVoters.contains(ReplicaID(selfID)) {
                try host.addGroup(Self.metaGroup, replica: ReplicaID(selfID), stateMachine: MetaMachine(initial: shardMap),
                                  nodeOf: nodeOf, bootstrapVoters: metaVoters)
            }
            var kv = KVSettings()
            kv.historyDepth = plan.config.historyDepth
            kv.maxValueBytes = plan.config.maxValueBytes
            for shard in shardMap.shards where shard.replicas.contains(plan.selfAddress) {
                let voters = shard.replicas.map { a in ReplicaID(addresses.first { $0.value == a }!.key) }
                try host.addGroup(Self.group(of: shard.id), replica: ReplicaID(selfID), stateMachine: KVShardMachine(settings: kv),
                                  nodeOf: nodeOf, bootstrapVoters: voters)
            }
        } catch {
            throw StartupError("cannot recover the shards: \(error)")
        }
    }

    func start() async throws {
        transport.onRaft = { [host] batch in host.receive(batch) }
        try await transport.start(host: plan.selfAddress.host, port: Int(plan.selfAddress.port) + plan.config.peerPortOffset)
        host.start()
        scheduleLeaderBalancing(on: eventLoop)
    }

    /// Every few seconds, shards this node leads but does not prefer are handed to their
    /// preferred replica when it is caught up; the placement spreads preferred replicas evenly,
    /// so leaders (and the write load) spread evenly over the nodes.
    private func scheduleLeaderBalancing(on loop: any EventLoop) {
        loop.scheduleRepeatedTask(initialDelay: .seconds(2), delay: .seconds(Self.leaderBalanceSeconds)) { [self] _ in
            for st in host.status() where st.role == .leader && st.group != Self.metaGroup {
                guard let shard = shardMap.shard(id: ShardID(rawValue: Int(st.group) - 1)),
                      let preferred = shard.preferredLeader.flatMap({ node(of: $0) }), preferred != selfID else { continue }
                host.transferLeadershipIfCaughtUp(st.group, to: ReplicaID(preferred))
            }
        }
    }

    /// Seconds between leader-balancing rounds.
    static let leaderBalanceSeconds: Int64 = 3

    func stop() {
        transport.stop()
        host.stop()
    }

    func node(of address: NodeAddress) -> NodeID? { addresses.first { $0.value == address }?.key }

    /// Identifies the cluster from its founding inputs, so a node refuses data and peers of
    /// another cluster.
    static func clusterID(_ plan: StartupPlan) -> UInt64 {
        var bytes = Array(plan.membership.nodes.map(\.description).joined(separator: ",").utf8)
        bytes += Array("/\(plan.config.shardCount)/\(plan.config.replicationFactor)".utf8)
        return UInt64(CRC32C.checksum(bytes)) << 32 | UInt64(CRC32C.checksum(bytes.reversed()))
    }

    /// The data directory records which cluster and node it belongs to; starting a node on
    /// another cluster's (or another node's) data is refused.
    static func checkIdentity(directory: String, clusterID: UInt64, selfAddress: NodeAddress) throws(StartupError) {
        let path = directory + "/IDENTITY"
        let expected = "mystore-data v1\ncluster \(String(clusterID, radix: 16))\nnode \(selfAddress)\n"
        if FileSystem.exists(path) {
            guard let f = try? DurableFile(path: path, mode: .readOnly), let bytes = try? f.readAll() else {
                throw StartupError("\(path): cannot read the data directory's identity file")
            }
            let found = String(decoding: bytes, as: UTF8.self)
            guard found == expected else {
                throw StartupError("\(directory) belongs to another cluster or node (\(path) says \"\(found.split(separator: "\n").dropFirst().joined(separator: ", "))\"); use an empty data directory or the node's own")
            }
            return
        }
        let existing = (try? FileSystem.list(directory)) ?? []
        if !existing.isEmpty {
            throw StartupError("\(directory) is not empty and is not a MyStore data directory (found \(existing.prefix(3).joined(separator: ", "))); use an empty directory")
        }
        do {
            let f = try DurableFile(path: path + ".tmp", mode: .truncateCreate)
            try f.append(Array(expected.utf8))
            try f.sync()
            try FileSystem.rename(path + ".tmp", path)
            try FileSystem.syncDirectory(directory)
        } catch {
            throw StartupError("cannot write \(path): \(error)")
        }
    }
}
