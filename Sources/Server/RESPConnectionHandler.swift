import NIOCore

/// Answers one client connection: decoded commands in, replies out, in request order (so
/// pipelined requests get their replies in the order sent).
final class RESPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RESPCommand
    typealias OutboundOut = ByteBuffer

    private let identity: ServerIdentity
    private let startedAt: ContinuousClock.Instant
    private var session: ClientSession

    init(identity: ServerIdentity, clientID: Int64, startedAt: ContinuousClock.Instant) {
        self.identity = identity
        self.session = ClientSession(id: clientID)
        self.startedAt = startedAt
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !session.isClosing else { return }
        let command = unwrapInboundIn(data)
        let uptime = (ContinuousClock.now - startedAt).components.seconds
        let reply = ConnectionCommands.reply(to: command, session: &session, identity: identity, uptimeSeconds: uptime)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeRESPValue(reply)
        context.write(wrapOutboundOut(buffer), promise: nil)
        if session.isClosing {
            let channel = context.channel
            context.flush()
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
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
