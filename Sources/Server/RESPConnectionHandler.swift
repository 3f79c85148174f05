import NIOCore
import SystemClock

/// Answers one client connection: decoded commands in, replies out, in request order even
/// when data commands complete out of order (so pipelined requests get their replies in the
/// order sent).
final class RESPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RESPCommand
    typealias OutboundOut = ByteBuffer

    private let identity: ServerIdentity
    private let startedAt: ContinuousClock.Instant
    private let router: CommandRouter?
    private var session: ClientSession
    private var routeSession = RouteSession()
    /// Sequence numbers: assigned per request, written strictly in order.
    private var nextRequest = 0
    private var nextToWrite = 0
    private var finished: [Int: RESPValue] = [:]
    /// The request after whose reply the connection closes (QUIT).
    private var closeAfter: Int?
    /// Inside `channelRead`: replies written now are flushed by `channelReadComplete`.
    private var reading = false
    private let metrics = NodeMetrics.shared

    init(identity: ServerIdentity, clientID: Int64, startedAt: ContinuousClock.Instant, router: CommandRouter? = nil) {
        self.identity = identity
        self.session = ClientSession(id: clientID)
        self.startedAt = startedAt
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !session.isClosing else { return }
        let command = unwrapInboundIn(data)
        let name = command.name
        let timer = metrics.requestTimer(name)
        let started = monotonicNanos()
        let request = nextRequest
        nextRequest += 1
        reading = true
        defer { reading = false }
        if let router, CommandRouter.names.contains(name) {
            let args = command.parts.map { Array($0.readableBytesView) }
            let loop = context.eventLoop
            let handler = NIOLoopBound(self, eventLoop: loop)
            let ctx = NIOLoopBound(context, eventLoop: loop)
            router.execute(args, name: name, session: &routeSession, hops: 0) { value in
                timer.recordNanoseconds(Int64(monotonicNanos() - started))
                if loop.inEventLoop {
                    // Completed inside this read (no flush needed yet) or later on this loop.
                    handler.value.finish(request, value, context: ctx.value, flush: !handler.value.reading)
                } else {
                    loop.execute { handler.value.finish(request, value, context: ctx.value, flush: true) }
                }
            }
            return
        }
        let uptime = (ContinuousClock.now - startedAt).components.seconds
        let reply = ConnectionCommands.reply(to: command, session: &session, identity: identity, uptimeSeconds: uptime)
        if session.isClosing { closeAfter = request }
        timer.recordNanoseconds(Int64(monotonicNanos() - started))
        finish(request, reply, context: context, flush: false)
    }

    private func finish(_ request: Int, _ value: RESPValue, context: ChannelHandlerContext, flush: Bool) {
        finished[request] = value
        var wrote = false
        while let v = finished.removeValue(forKey: nextToWrite) {
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeRESPValue(v)
            context.write(wrapOutboundOut(buffer), promise: nil)
            wrote = true
            if nextToWrite == closeAfter {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                    channel.close(promise: nil)
                }
                finished = [:]
                nextToWrite += 1
                return
            }
            nextToWrite += 1
        }
        if wrote && flush { context.flush() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    /// A protocol error gets one `-ERR Protocol error: ...` reply, then the connection closes;
    /// any other error just closes it. Either way only this client is affected.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !session.isClosing else { return }
        session.isClosing = true
        guard let protocolError = error as? RESPProtocolError else {
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeRESPValue(.error("ERR \(protocolError.description)"))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
