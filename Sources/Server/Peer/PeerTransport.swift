import Logging
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ShardRouter

/// Connections between nodes: one TCP connection per node pair, opened by the node with the
/// lower id and used in both directions; re-dialled with backoff when it drops. Carries Raft
/// batches (`RaftTransport`) and forwarded client commands.
final class PeerTransport: RaftTransport, @unchecked Sendable {
    let selfNode: NodeID
    let clusterID: UInt64
    private let peerBox: NIOLockedValueBox<[NodeID: (host: String, port: Int)]>
    let group: any EventLoopGroup
    let streams: SnapshotStreams
    private let channels = NIOLockedValueBox<[NodeID: any Channel]>([:])
    private let dialing = NIOLockedValueBox<Set<NodeID>>([])
    /// Forwarded commands waiting for their reply: the node asked, and who gets the reply.
    /// Forwarded commands awaiting their reply, with the connection each was sent on (the
    /// reply comes back on it, so its closing ends the wait).
    private let pendingForwards = NIOLockedValueBox<[UInt64: (channel: ObjectIdentifier?, reply: @Sendable (ForwardOutcome) -> Void)]>([:])
    private let nextForward = NIOLockedValueBox<UInt64>(1)
    private let pendingGroupOps = NIOLockedValueBox<[UInt64: @Sendable (GroupOpResult) -> Void]>([:])
    private let stopped = NIOLockedValueBox(false)
    /// Where inbound Raft batches go (the host), set before `start`.
    var onRaft: @Sendable ([(group: GroupID, message: Message)]) -> Void = { _ in }
    /// Executes a forwarded command and completes with its RESP reply bytes.
    var onForward: @Sendable (_ arguments: [[UInt8]], _ hops: UInt8, _ budgetMillis: Int, _ reply: @escaping @Sendable ([UInt8]) -> Void) -> Void = {
        _, _, _, r in r([])
    }
    /// Performs a group operation another node sent (where this node leads the group).
    var onGroupOp: @Sendable (_ group: GroupID, _ op: GroupOp, _ reply: @escaping @Sendable (GroupOpResult) -> Void) -> Void = { _, _, r in
        r(.failed("starting"))
    }
    private var server: (any Channel)?
    /// The node's own address, outgoing connections' source: a firewall (or a test's
    /// partition) tells the nodes apart by address even when they share a host.
    private var localAddress: SocketAddress?

    init(selfNode: NodeID, clusterID: UInt64, peers: [NodeID: (host: String, port: Int)], group: any EventLoopGroup, streams: SnapshotStreams) {
        self.selfNode = selfNode
        self.clusterID = clusterID
        self.peerBox = NIOLockedValueBox(peers)
        self.group = group
        self.streams = streams
    }

    /// The other nodes' peer addresses.
    var peers: [NodeID: (host: String, port: Int)] { peerBox.withLockedValue { $0 } }

    /// Replaces the set of peers (nodes joined or left): connections to nodes no longer
    /// listed close; new nodes this node is responsible for are dialled.
    func setPeers(_ new: [NodeID: (host: String, port: Int)]) {
        let old = peerBox.withLockedValue { p in defer { p = new }; return p }
        for id in old.keys where new[id] == nil {
            channels.withLockedValue { $0.removeValue(forKey: id) }?.close(promise: nil)
        }
        for id in new.keys where old[id] == nil && id > selfNode { dial(id, attempt: 0) }
    }

    /// Listens on the peer port and starts dialling the peers this node is responsible for.
    func start(host: String, port: Int) async throws {
        server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(PeerHandler(transport: self, dialedPeer: nil))
                }
            }
            .bind(host: host, port: port).get()
        localAddress = Self.sourceAddress(listeningOn: server?.localAddress)
        for peer in peers.keys where peer > selfNode { dial(peer, attempt: 0) }
    }

    /// The source address of outgoing peer connections: the listening IP with port 0, or nil
    /// (the kernel picks) when listening on a wildcard (`0.0.0.0`, `::`), which could not reach
    /// the other family's addresses.
    static func sourceAddress(listeningOn address: SocketAddress?) -> SocketAddress? {
        guard let ip = address?.ipAddress, ip != "0.0.0.0", ip != "::" else { return nil }
        return try? SocketAddress(ipAddress: ip, port: 0)
    }

    func stop() {
        stopped.withLockedValue { $0 = true }
        server?.close(promise: nil)
        for ch in channels.withLockedValue({ Array($0.values) }) { ch.close(promise: nil) }
    }

    /// Connects to a peer by its membership line: `connect(host:port:)` resolves a name anew
    /// (getaddrinfo) on every dial, so a redial after the peer restarted under a new IP reaches
    /// the new one.
    private func dial(_ peer: NodeID, attempt: Int) {
        guard !stopped.withLockedValue({ $0 }), let addr = peers[peer] else { return }
        guard dialing.withLockedValue({ $0.insert(peer).inserted }) else { return }
        var bootstrap = ClientBootstrap(group: group)
        if let localAddress { bootstrap = bootstrap.bind(to: localAddress) }
        bootstrap
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(2))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(PeerHandler(transport: self, dialedPeer: peer))
                }
            }
            .connect(host: addr.host, port: addr.port)
            .whenComplete { [self] result in
                dialing.withLockedValue { _ = $0.remove(peer) }
                switch result {
                case .success(let ch):
                    ch.writeAndFlush(ByteBuffer(bytes: PeerFrame.hello(node: selfNode, cluster: clusterID).encoded()), promise: nil)
                    register(peer, ch)
                case .failure(let error):
                    Logs.peer.limited(Logs.limiter, key: "dial-\(peer)", .info, "cannot connect to node \(peer) at \(addr.host):\(addr.port): \(Logs.describe(error))",
                                      metadata: ["peer": "\(peer)"])
                    redial(peer, attempt: attempt + 1)
                }
            }
    }

    /// Backoff: 50 ms doubling up to 2 s.
    func redial(_ peer: NodeID, attempt: Int) {
        guard !stopped.withLockedValue({ $0 }), peer > selfNode, peers[peer] != nil else { return }
        let delay = min(2_000, 50 << min(attempt, 6))
        group.next().scheduleTask(in: .milliseconds(Int64(delay))) { [self] in dial(peer, attempt: attempt) }
    }

    func register(_ peer: NodeID, _ channel: any Channel) {
        let old = channels.withLockedValue { c in defer { c[peer] = channel }; return c[peer] }
        if let old, old !== channel { old.close(promise: nil) }
        Logs.peer.limited(Logs.limiter, key: "up-\(peer)", .info, "connected to node \(peer)",
                          metadata: ["peer": "\(peer)", "remote": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
        channel.closeFuture.whenComplete { [self] _ in
            let removed = channels.withLockedValue { c -> Bool in
                guard c[peer] === channel else { return false }
                c[peer] = nil
                return true
            }
            // Its forwards get no reply, also when a newer connection to the peer replaced it.
            failForwards(sentOn: ObjectIdentifier(channel))
            if removed {
                Logs.peer.limited(Logs.limiter, key: "down-\(peer)", .info, "connection to node \(peer) closed", metadata: ["peer": "\(peer)"])
                redial(peer, attempt: 0)
            }
        }
    }

    @discardableResult
    private func write(_ frame: PeerFrame, to node: NodeID) -> Bool { writeReturningChannel(frame, to: node) != nil }

    /// Writes `frame` on the connection to `node`; returns that connection, or nil when there is none.
    private func writeReturningChannel(_ frame: PeerFrame, to node: NodeID) -> (any Channel)? {
        guard let ch = channels.withLockedValue({ $0[node] }) else {
            if node > selfNode { dial(node, attempt: 0) }
            return nil
        }
        ch.writeAndFlush(ByteBuffer(bytes: frame.encoded()), promise: nil)
        return ch
    }

    // MARK: RaftTransport

    func send(_ batch: [(group: GroupID, message: Message)], to node: NodeID) {
        _ = write(.raft(batch), to: node)
    }

    func sendSnapshot(group: GroupID, message: Message, file: String, to node: NodeID, done: @escaping @Sendable (Bool) -> Void) {
        guard let p = peers[node], let address = NodeAddress(host: p.host, port: UInt16(p.port)) else { return done(false) }
        streams.send(group: group, message: message, file: file, to: address, done: done)
    }

    // MARK: Forwarding

    /// What became of a forwarded command.
    enum ForwardOutcome: Sendable {
        /// The target's RESP reply.
        case reply([UInt8])
        /// Not sent: no connection to the target. The target never saw the command.
        case notSent
        /// Sent, but no reply within the timeout, or the connection closed first: the target
        /// may have executed it.
        case noReply
    }

    /// Sends a client command to `node`, which gives up on it within `budgetMillis`; `reply`
    /// gets what became of it, within `timeoutMillis`.
    func forward(_ arguments: [[UInt8]], hops: UInt8, to node: NodeID, budgetMillis: Int64, timeoutMillis: Int64,
                 reply: @escaping @Sendable (ForwardOutcome) -> Void) {
        let id = nextForward.withLockedValue { n in defer { n += 1 }; return n }
        pendingForwards.withLockedValue { $0[id] = (nil, reply) }
        let budget = UInt32(clamping: max(1, budgetMillis))
        guard let channel = writeReturningChannel(.forward(id: id, hops: hops, budgetMillis: budget, arguments: arguments), to: node) else {
            pendingForwards.withLockedValue { $0[id] = nil }
            reply(.notSent)
            return
        }
        let sentOn = ObjectIdentifier(channel)
        let closedMeanwhile = pendingForwards.withLockedValue { pending -> Bool in
            guard pending[id] != nil else { return false }
            pending[id]!.channel = sentOn
            return !channel.isActive
        }
        if closedMeanwhile { failForwards(sentOn: sentOn) }
        group.next().scheduleTask(in: .milliseconds(timeoutMillis)) { [self] in
            if let p = pendingForwards.withLockedValue({ $0.removeValue(forKey: id) }) { p.reply(.noReply) }
        }
    }

    /// A connection closed: the commands forwarded on it will get no reply.
    private func failForwards(sentOn channel: ObjectIdentifier) {
        let failed = pendingForwards.withLockedValue { pending -> [@Sendable (ForwardOutcome) -> Void] in
            let ids = pending.filter { $0.value.channel == channel }.map(\.key)
            return ids.compactMap { pending.removeValue(forKey: $0)?.reply }
        }
        for reply in failed { reply(.noReply) }
    }

    // MARK: Group operations

    /// Sends a group operation to `node`; `reply` gets its result, or `.failed` when the node
    /// cannot be reached or does not answer within the timeout.
    func groupRequest(_ op: GroupOp, group: GroupID, to node: NodeID, timeoutMillis: Int64, reply: @escaping @Sendable (GroupOpResult) -> Void) {
        let id = nextForward.withLockedValue { n in defer { n += 1 }; return n }
        pendingGroupOps.withLockedValue { $0[id] = reply }
        guard write(.groupRequest(id: id, group: group, op: op), to: node) else {
            pendingGroupOps.withLockedValue { $0[id] = nil }
            return reply(.failed("no connection to node \(node)"))
        }
        self.group.next().scheduleTask(in: .milliseconds(timeoutMillis)) { [self] in
            if let r = pendingGroupOps.withLockedValue({ $0.removeValue(forKey: id) }) { r(.failed("node \(node) did not answer")) }
        }
    }

    func handle(_ frame: PeerFrame, on channel: any Channel, dialedPeer: NodeID?, helloFrom: inout NodeID?) {
        switch frame {
        case .hello(let node, let cluster):
            guard cluster == clusterID, peers[node] != nil else {
                let why = cluster != clusterID ? "another cluster's id" : "node \(node), not a member"
                Logs.peer.limited(Logs.limiter, key: "refused-peer", .warning, "refused a peer connection: its hello names \(why)",
                                  metadata: ["remote": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                channel.close(promise: nil)
                return
            }
            helloFrom = node
            register(node, channel)
        case .raft(let batch):
            guard dialedPeer != nil || helloFrom != nil else { return channel.close(promise: nil) }
            onRaft(batch)
        case .forward(let id, let hops, let budget, let args):
            guard dialedPeer != nil || helloFrom != nil else { return channel.close(promise: nil) }
            onForward(args, hops, Int(budget)) { resp in
                channel.writeAndFlush(ByteBuffer(bytes: PeerFrame.reply(id: id, resp: resp).encoded()), promise: nil)
            }
        case .groupRequest(let id, let group, let op):
            guard dialedPeer != nil || helloFrom != nil else { return channel.close(promise: nil) }
            onGroupOp(group, op) { result in
                channel.writeAndFlush(ByteBuffer(bytes: PeerFrame.groupReply(id: id, result: result).encoded()), promise: nil)
            }
        case .groupReply(let id, let result):
            if let r = pendingGroupOps.withLockedValue({ $0.removeValue(forKey: id) }) { r(result) }
        case .reply(let id, let resp):
            if let p = pendingForwards.withLockedValue({ $0.removeValue(forKey: id) }) { p.reply(.reply(resp)) }
        case .snapshotBegin, .snapshotChunk, .snapshotEnd, .snapshotAck:
            channel.close(promise: nil)  // handled by PeerHandler on a stream connection
        }
    }
}

/// One peer connection's inbound side.
final class PeerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PeerFrame
    typealias OutboundOut = ByteBuffer
    let transport: PeerTransport
    let dialedPeer: NodeID?
    var helloFrom: NodeID?

    init(transport: PeerTransport, dialedPeer: NodeID?) {
        self.transport = transport
        self.dialedPeer = dialedPeer
    }

    /// The snapshot this connection streams in, if it is a snapshot stream.
    var inbound: SnapshotStreams.Inbound?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame {
        case .snapshotBegin(let node, let cluster, let group, let message, let size):
            guard dialedPeer == nil, helloFrom == nil, inbound == nil, cluster == transport.clusterID,
                  transport.peers[node] != nil, message.kind == .snapshot, message.snapshot != nil else {
                return context.close(promise: nil)
            }
            switch transport.streams.begin(group: group, message: message, size: size, from: node) {
            case .success(let i): inbound = i
            case .failure(let why):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: PeerFrame.snapshotAck(received: 0, state: .refused, detail: why.description).encoded())), promise: nil)
                context.close(promise: nil)
            }
        case .snapshotChunk(let bytes):
            guard let inbound, !inbound.finished else { return context.close(promise: nil) }
            do {
                try transport.streams.chunk(bytes, into: inbound)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: PeerFrame.snapshotAck(received: inbound.received, state: .receiving, detail: "").encoded())), promise: nil)
            } catch {
                transport.streams.abandon(inbound)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: PeerFrame.snapshotAck(received: inbound.received, state: .refused, detail: "\(error)").encoded())), promise: nil)
                context.close(promise: nil)
            }
        case .snapshotEnd:
            guard let inbound, !inbound.finished else { return context.close(promise: nil) }
            let channel = context.channel
            transport.streams.finish(inbound) { ack in
                channel.writeAndFlush(ByteBuffer(bytes: ack.encoded())).whenComplete { _ in channel.close(promise: nil) }
            }
        default:
            guard inbound == nil else { return context.close(promise: nil) }
            transport.handle(frame, on: context.channel, dialedPeer: dialedPeer, helloFrom: &helloFrom)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let inbound { transport.streams.abandon(inbound) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
