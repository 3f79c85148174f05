import Logging
import KVStore
import MultiRaft
import NIOConcurrencyHelpers
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
    let host: RaftHost
    let transport: PeerTransport
    let streams: SnapshotStreams
    /// Online backups of shards this node leads (`MYSTORE.BACKUP`).
    let backups: BackupSessions
    let clusterID: UInt64
    /// The layout every node derives at bootstrap from the membership and config; the meta
    /// group's log applies on top of it.
    let bootstrapState: MetaState
    private let metaBox: NIOLockedValueBox<MetaState>
    private let kvSettings: KVSettings
    private(set) var rebalancer: Rebalancer!

    /// The meta group holds the layout; shard k is group k + 1.
    static let metaGroup: GroupID = 0
    /// A WAL fdatasync taking this long (seconds) is logged as a warning, rate-limited.
    static let slowSyncSeconds = 0.2
    static func group(of shard: ShardID) -> GroupID { GroupID(shard.rawValue + 1) }
    static func shard(of group: GroupID) -> ShardID { ShardID(rawValue: Int(group) - 1) }
    /// The meta group's voters: up to five active nodes; the others hold learner replicas.
    static let maxMetaVoters = 5

    let eventLoop: any EventLoop

    /// The latest layout this node's meta replica applied (the bootstrap layout until then).
    var meta: MetaState { metaBox.withLockedValue { $0 } }
    var shardMap: ShardMap { meta.map }
    /// Addresses of the nodes that are not removed.
    var addresses: [NodeID: NodeAddress] { meta.addresses }

    init(plan: StartupPlan, identity: NodeIdentity, eventLoops: any EventLoopGroup) throws(StartupError) {
        self.plan = plan
        eventLoop = eventLoops.next()
        bootstrapState = MetaState(bootstrap: plan.membership.nodes, map: plan.shardMap)
        metaBox = NIOLockedValueBox(bootstrapState)
        selfID = identity.nodeID
        clusterID = identity.clusterID
        var kv = KVSettings()
        kv.historyDepth = plan.config.historyDepth
        kv.maxValueBytes = plan.config.maxValueBytes
        kvSettings = kv
        backups = BackupSessions(compressionLevel: Int32(plan.config.snapshotCompressionLevel), threadNice: Int32(plan.config.snapshotThreadNice))

        let data = plan.dataDirectory
        let wal: WriteAheadLog
        do {
            var walSettings = WALSettings(directory: data + "/wal")
            walSettings.plantedSkipWrites = plan.plantedBugs.skipWAL
            wal = try WriteAheadLog(settings: walSettings)
        } catch {
            throw StartupError("cannot recover the write-ahead log: \(error)")
        }
        for n in wal.recoveryNotes { Logs.server.warning("write-ahead log recovery: \(n)") }
        wal.onSync = { seconds, records in
            NodeMetrics.shared.walSynced(seconds: seconds, records: records)
            if seconds >= Self.slowSyncSeconds {
                Logs.server.limited(Logs.limiter, key: "slow-fsync", .warning, "slow fdatasync of the write-ahead log",
                                    metadata: ["milliseconds": "\(Int(seconds * 1000))", "records": "\(records)"])
            }
        }

        streams = SnapshotStreams(
            settings: .init(directory: data + "/snapshots", bytesPerSecond: plan.config.snapshotSendBytesPerSecond,
                            maxReceives: plan.config.snapshotMaxReceives),
            selfNode: selfID, clusterID: clusterID)
        var known = bootstrapState.addresses
        for (id, a) in identity.knownNodes { known[id] = a }
        transport = PeerTransport(selfNode: selfID, clusterID: clusterID, peers: Self.peerPorts(known, except: selfID, offset: plan.config.peerPortOffset),
                                  group: eventLoops, streams: streams)

        var settings = HostSettings()
        settings.onFatal = { message in
            // Continuing would acknowledge what is not durable: stop the node.
            Logs.server.critical("fatal: \(message)")
            exit(3)
        }
        settings.tickMillis = plan.config.tickIntervalMilliseconds
        settings.logger = Logs.raft
        settings.describeNode = { [metaBox] id in metaBox.withLockedValue { $0.addresses[id]?.description } ?? "node \(id)" }
        settings.raft.electionTicks = plan.config.electionTicks
        settings.raft.heartbeatTicks = plan.config.heartbeatTicks
        settings.raft.plantedBugs = plan.plantedBugs.raft
        settings.snapshotEntries = UInt64(plan.config.snapshotEntries)
        settings.snapshotLogBytes = UInt64(plan.config.snapshotLogBytes)
        settings.snapshotLogStatePercent = UInt64(plan.config.snapshotLogStatePercent)
        settings.snapshotCompressionLevel = Int32(plan.config.snapshotCompressionLevel)
        settings.snapshotThreadNice = Int32(plan.config.snapshotThreadNice)
        settings.keepTrailingEntries = UInt64(plan.config.snapshotTrailingEntries)
        settings.requestTimeoutMillis = plan.config.requestTimeoutMilliseconds
        settings.maxSnapshotSends = plan.config.snapshotMaxSends
        settings.walWaitMicros = plan.config.walWaitMicroseconds
        host = RaftHost(node: selfID, settings: settings, wal: wal, snapshotDirectory: data + "/snapshots", transport: transport)
        host.groupFactory = { [weak self] gid in self?.makeStateMachine(gid) }
        if plan.config.raftOnEventLoop { host.executor = EventLoopHostExecutor(loop: eventLoop) }
        streams.onSnapshot = { [host] g, m, f in host.receiveSnapshot(group: g, message: m, file: f) }

        // Only a founding node's very first start uses a restore seed.
        let seed = identity.isNew && wal.recovered.isEmpty && identity.joinedNodeID == nil ? try Self.restoreSeed(data, map: plan.shardMap) : nil
        do {
            if !wal.recovered.isEmpty || !identity.isNew {
                // A restart: host every group the WAL holds, under its recorded replica id.
                for gid in wal.recovered.keys.sorted() {
                    let replica = host.storedReplicaID(of: gid) ?? ReplicaID(selfID)
                    try host.addGroup(gid, replica: replica, stateMachine: makeStateMachine(gid), nodeOf: [:], bootstrapVoters: [])
                }
            } else if identity.joinedNodeID == nil {
                // First start of a founding node: the meta group and its shards per the placement,
                // each shard from the backup's state when `mystore restore` laid out this directory.
                let members = bootstrapState.addresses.keys.sorted()
                let metaVoters = members.prefix(Self.maxMetaVoters).map { ReplicaID($0) }
                if metaVoters.contains(ReplicaID(selfID)) {
                    try host.addGroup(Self.metaGroup, replica: ReplicaID(selfID), stateMachine: makeStateMachine(Self.metaGroup),
                                      nodeOf: [:], bootstrapVoters: metaVoters)
                }
                for shard in plan.shardMap.shards where shard.replicas.contains(plan.selfAddress) {
                    let voters = shard.replicas.compactMap { a in bootstrapState.node(at: a).map { ReplicaID($0.id) } }
                    try host.addGroup(Self.group(of: shard.id), replica: ReplicaID(selfID), stateMachine: makeStateMachine(Self.group(of: shard.id)),
                                      nodeOf: [:], bootstrapVoters: voters,
                                      seedSnapshot: seed.map { $0.directory + "/" + RestoreManifest.snapshotName(shard.id) })
                }
                if let seed {
                    // The shards' snapshots now hold the state; the seed has served (the
                    // manifest goes first: a seed without one is never used).
                    try? FileSystem.remove(seed.directory + "/" + RestoreManifest.fileName)
                    for name in (try? FileSystem.list(seed.directory)) ?? [] { try? FileSystem.remove(seed.directory + "/" + name) }
                    try? FileSystem.removeDirectory(seed.directory)
                    Logs.server.notice("founded \(seed.manifest.shards.count) shards' groups from the restored backup (shards hosted here restored)")
                }
            }
            // A node that just joined starts empty: the meta leader adds it to the meta group
            // and the rebalancer moves shard replicas onto it.
        } catch {
            throw StartupError("cannot recover the shards: \(error)")
        }
        rebalancer = Rebalancer(node: self, maxMoves: plan.config.rebalanceMaxMoves)
    }

    /// The restore seed `mystore restore` left in `data` (nil when there is none), checked
    /// against this cluster's shards.
    static func restoreSeed(_ data: String, map: ShardMap) throws(StartupError) -> (directory: String, manifest: RestoreManifest)? {
        let directory = data + "/" + RestoreManifest.directoryName
        let path = directory + "/" + RestoreManifest.fileName
        guard FileSystem.exists(directory) else { return nil }
        guard let f = try? DurableFile(path: path, mode: .readOnly), let bytes = try? f.readAll() else {
            throw StartupError("\(path): cannot read the restore manifest; run `mystore restore` again into empty directories")
        }
        let manifest: RestoreManifest
        do {
            manifest = try RestoreManifest(parsing: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw StartupError("\(path): \(error)")
        }
        if let why = manifest.mismatch(with: map) { throw StartupError("cannot start from the restored backup: \(why)") }
        for e in manifest.shards where !FileSystem.exists(directory + "/" + RestoreManifest.snapshotName(e.shard)) {
            throw StartupError("\(directory): the restored state of \(e.shard) is missing")
        }
        return (directory, manifest)
    }

    /// The state machine of a group hosted here.
    func makeStateMachine(_ gid: GroupID) -> any GroupStateMachine {
        if gid == Self.metaGroup {
            return MetaMachine(initial: bootstrapState) { [weak self] state in self?.metaChanged(state) }
        }
        return KVShardMachine(settings: kvSettings)
    }

    private func metaChanged(_ state: MetaState) {
        let old = metaBox.withLockedValue { m in defer { m = state }; return m }
        if old.addresses != state.addresses {
            transport.setPeers(Self.peerPorts(state.addresses, except: selfID, offset: plan.config.peerPortOffset))
        }
    }

    static func peerPorts(_ addresses: [NodeID: NodeAddress], except me: NodeID, offset: Int) -> [NodeID: (host: String, port: Int)] {
        var peers: [NodeID: (host: String, port: Int)] = [:]
        for (id, a) in addresses where id != me { peers[id] = (a.host, Int(a.port) + offset) }
        return peers
    }

    func start() async throws {
        transport.onRaft = { [host] batch in host.receive(batch) }
        transport.onGroupOp = { [weak self] group, op, reply in
            guard let self else { return reply(.failed("stopping")) }
            performHere(op, on: group, completion: reply)
        }
        try await transport.start(host: plan.listenHost, port: Int(plan.selfAddress.port) + plan.config.peerPortOffset)
        host.start()
        scheduleLeaderBalancing(on: eventLoop)
        scheduleReplicaCollection(on: eventLoop)
        scheduleActiveExpiry(on: eventLoop)
        rebalancer.start(on: eventLoop)
    }

    /// Every few seconds, shards this node leads but does not prefer are handed to their
    /// preferred replica when it is caught up; the placement spreads preferred replicas evenly,
    /// so leaders (and the write load) spread evenly over the nodes.
    private func scheduleLeaderBalancing(on loop: any EventLoop) {
        loop.scheduleRepeatedTask(initialDelay: .seconds(2), delay: .seconds(Self.leaderBalanceSeconds)) { [self] _ in
            let meta = meta
            for st in host.status() where st.role == .leader && st.group != Self.metaGroup {
                let id = Self.shard(of: st.group)
                guard meta.move(of: id) == nil, let shard = meta.map.shard(id: id),
                      let preferred = shard.preferredLeader.flatMap({ meta.node(at: $0)?.id }), preferred != selfID,
                      let replica = meta.replicaIDs[id]?[preferred], st.voters.contains(replica) else { continue }
                host.transferLeadershipIfCaughtUp(st.group, to: replica)
            }
        }
    }

    /// A replica removed from its shard group while its node was cut off never receives the
    /// change that removes it, and no leader contacts it again: it would sit forever as a
    /// leaderless pre-candidate. Every few seconds a node compares the shard replicas it hosts
    /// with the meta group's layout, and destroys one that (a) has known no leader for
    /// `collectAfterRounds` rounds in a row, (b) is not the replica the layout records for this
    /// node, and (c) is in no queued move, all judged only while this node's meta replica knows
    /// a leader and has applied everything it knows to be committed. A replica being added here
    /// hears from its leader at once, and one still in the layout is never touched, even when
    /// its whole group has lost quorum.
    private func scheduleReplicaCollection(on loop: any EventLoop) {
        let leaderless = NIOLockedValueBox<[GroupID: (replica: ReplicaID, rounds: Int)]>([:])
        loop.scheduleRepeatedTask(initialDelay: .seconds(Self.collectSeconds), delay: .seconds(Self.collectSeconds)) { [self] _ in
            guard let metaStatus = host.status(of: Self.metaGroup), metaStatus.leaderNode != nil,
                  metaStatus.appliedIndex >= metaStatus.commitIndex else { return }
            let meta = meta
            let previous = leaderless.withLockedValue { $0 }
            var seen: [GroupID: (replica: ReplicaID, rounds: Int)] = [:]
            for st in host.status() where st.group != Self.metaGroup && st.leaderNode == nil {
                let shard = Self.shard(of: st.group)
                guard meta.replicaIDs[shard]?[selfID] != st.replica,
                      !meta.moves.contains(where: { $0.shard == shard && ($0.to == selfID || $0.from == selfID) }) else { continue }
                let before = previous[st.group].flatMap { $0.replica == st.replica ? $0.rounds : nil } ?? 0
                seen[st.group] = (st.replica, before + 1)
            }
            leaderless.withLockedValue { $0 = seen }
            for (group, s) in seen where s.rounds >= Self.collectAfterRounds {
                host.collectRemovedReplica(group, replica: s.replica, reason: "not in the shard map and no leader for \(s.rounds * Int(Self.collectSeconds)) s (removed from the group while this node was cut off)")
            }
        }
    }

    /// Seconds between checks for replicas left behind by a removal, and checks in a row.
    static let collectSeconds: Int64 = 5
    static let collectAfterRounds = 3

    /// Seconds between leader-balancing rounds.
    static let leaderBalanceSeconds: Int64 = 3

    func stop() {
        rebalancer.stop()
        transport.stop()
        host.stop()
    }

    func node(of address: NodeAddress) -> NodeID? { meta.node(at: address)?.id }
}

/// Runs the Raft host on an event loop (`raft_host = event_loop`).
struct EventLoopHostExecutor: HostExecutor {
    let loop: any EventLoop

    var inExecutor: Bool { loop.inEventLoop }

    func execute(_ work: @escaping @Sendable () -> Void) { loop.execute(work) }

    func repeatEvery(milliseconds: Int, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64(milliseconds)), delay: .milliseconds(Int64(milliseconds))) { _ in work() }
        return { task.cancel() }
    }
}

// MARK: - Operations on a group's leader

extension ClusterNode {
    /// Runs `op` on `group`'s leader: here when this node leads it, otherwise on the leader's
    /// node (or, with no leader known here, on a node holding a replica) over the peer
    /// connection. Fails, without retrying, when no leader can be reached.
    func perform(_ op: GroupOp, on group: GroupID, timeoutMillis: Int64 = 2_000, completion: @escaping @Sendable (GroupOpResult) -> Void) {
        if host.status(of: group)?.role == .leader { return performHere(op, on: group, completion: completion) }
        guard let target = likelyLeader(of: group), target != selfID else { return completion(.failed("no leader of group \(group) is known")) }
        transport.groupRequest(op, group: group, to: target, timeoutMillis: timeoutMillis, reply: completion)
    }

    /// The node to ask for `group`'s leader: the leader as this node knows it, or, when this
    /// node holds no replica of the group, a random node that holds one.
    func likelyLeader(of group: GroupID) -> NodeID? {
        guard let status = host.status(of: group) else {
            let meta = meta
            let holders = group == Self.metaGroup ? Array(meta.addresses.keys) : meta.replicas(of: Self.shard(of: group))
            return holders.filter { $0 != selfID }.randomElement()
        }
        return status.leaderNode
    }

    /// Runs `op` on this node's replica of `group`, which must lead it.
    func performHere(_ op: GroupOp, on group: GroupID, completion: @escaping @Sendable (GroupOpResult) -> Void) {
        switch op {
        case .progress:
            host.replicaProgress(group) { p in completion(p.map { .progress($0) } ?? .failed("not the leader of group \(group)")) }
        case .confChange(let change):
            host.proposeConfChange(group, change) { result in
                switch result {
                case .success: completion(.done)
                case .failure(let e): completion(.failed("\(e)"))
                }
            }
        case .transfer(let replica):
            host.transferLeadershipIfCaughtUp(group, to: replica)
            completion(.done)
        }
    }
}
