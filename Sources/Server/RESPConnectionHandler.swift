import CoreMetrics
import Logging
import NIOCore
import Synchronization
import SystemClock

/// Requests of every client connection started and not yet answered (a graceful stop waits
/// for them).
let requestsInFlight = Atomic<Int>(0)

/// Answers one client connection: decoded commands in, replies out, in request order even
/// when data commands complete out of order (so pipelined requests get their replies in the
/// order sent).
///
/// Backpressure bounds what one client costs: at most `RESPLimits.maxInFlight` of its requests
/// execute at once, and none starts while its socket is not writable (it is not reading its
/// replies); later requests wait decoded, and the node stops reading from the socket until
/// they can run. A client whose unsent replies pass `RESPLimits.outputBufferLimit` anyway is
/// disconnected, as Redis does past its client-output-buffer-limit.
final class RESPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPCommand
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let identity: ServerIdentity
    private let startedAt: ContinuousClock.Instant
    private let router: CommandRouter?
    private var session: ClientSession
    private var routeSession = RouteSession()
    /// Sequence numbers: assigned per request, written strictly in order.
    private var nextRequest = 0
    private var nextToWrite = 0
    /// Replies done but waiting for an earlier one, each with the protocol in force when its
    /// request started (a `HELLO` changes it for later requests only).
    private var finished: [Int: (value: RESPValue, proto: RESPProtocol)] = [:]
    /// The request after whose reply the connection closes (QUIT).
    private var closeAfter: Int?
    /// Inside `channelRead`: replies written now are flushed by `channelReadComplete`.
    private var reading = false
    private let metrics = NodeMetrics.shared
    private let limits: RESPLimits
    /// Decoded requests waiting to start (too many in flight, or the client not reading).
    private var waiting = CircularBuffer<RESPCommand>()
    /// A socket read the channel asked for while requests had to wait; done once they can run.
    private var readHeld = false
    /// Bytes of the replies in `finished` (done, waiting for an earlier one).
    private var finishedBytes = 0
    private var draining = false
    /// A graceful stop asked this connection to finish what it received and close: nothing
    /// more is read, and the connection closes once every reply is written.
    private var quiescing = false

    init(identity: ServerIdentity, clientID: Int64, startedAt: ContinuousClock.Instant, router: CommandRouter? = nil,
         limits: RESPLimits = RESPLimits()) {
        self.identity = identity
        self.session = ClientSession(id: clientID)
        self.startedAt = startedAt
        self.router = router
        self.limits = limits
    }

    /// A WATCH or EXEC is running: later requests wait for it (they must see what it did, and
    /// it must see what came before).
    private var barrier: Int?

    /// Whether a new request must wait: the most are in flight, the client is not taking the
    /// replies it has, a WATCH or EXEC runs, or `command` is one and earlier requests are not
    /// done.
    private func mustWait(_ context: ChannelHandlerContext, _ command: RESPCommand? = nil) -> Bool {
        if barrier != nil || nextRequest - nextToWrite >= limits.maxInFlight || !context.channel.isWritable { return true }
        guard let command, nextRequest != nextToWrite else { return false }
        return Self.isBarrier(command)
    }

    /// WATCH and EXEC run alone: after every earlier request, before any later one.
    private static func isBarrier(_ command: RESPCommand) -> Bool {
        let first = command.parts[0].readableBytesView
        guard first.count == 4 || first.count == 5 else { return false }
        let name = command.name
        return name == "EXEC" || name == "WATCH"
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !session.isClosing else { return }
        let command = unwrapInboundIn(data)
        if !waiting.isEmpty || mustWait(context, command) {
            waiting.append(command)
            return
        }
        start(command, context: context)
    }

    /// The channel asks for more input: held while requests wait.
    func read(context: ChannelHandlerContext) {
        if quiescing || !waiting.isEmpty || mustWait(context, nil) {
            readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        closeIfQuiet(context)
    }

    /// While quiescing: closes once no request is waiting or running and every reply is sent.
    private func closeIfQuiet(_ context: ChannelHandlerContext) {
        guard quiescing, !session.isClosing, waiting.isEmpty, nextToWrite == nextRequest else { return }
        session.isClosing = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { drain(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Starts the waiting requests that may start now, then reads again once none waits.
    private func drain(context: ChannelHandlerContext) {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !session.isClosing, let next = waiting.first, !mustWait(context, next) {
            waiting.removeFirst()
            start(next, context: context)
        }
        if readHeld, waiting.isEmpty, !mustWait(context), !session.isClosing, !quiescing {
            readHeld = false
            context.read()
        }
    }

    private func start(_ command: RESPCommand, context: ChannelHandlerContext) {
        requestsInFlight.add(1, ordering: .relaxed)
        ServerCounters.commandsProcessed.add(1, ordering: .relaxed)
        let name = command.name
        let timer = metrics.requestTimer(name)
        let started = monotonicNanos()
        let request = nextRequest
        nextRequest += 1
        reading = true
        defer { reading = false }
        // As Redis checks before running anything: the name must be known and the arity right.
        guard let spec = CommandTable.spec(named: name) else {
            session.transaction?.aborted = true
            return finish(request, ConnectionCommands.unknownCommand(command), proto: session.protocolVersion, context: context, flush: false)
        }
        guard spec.accepts(argumentCount: command.parts.count) else {
            session.transaction?.aborted = true
            return finish(request, ConnectionCommands.wrongArity(command), proto: session.protocolVersion, context: context, flush: false)
        }
        if session.transaction != nil, !TransactionCommands.runAtOnce.contains(name) {
            let reply = TransactionCommands.queue(command, spec: spec, session: &session)
            return finish(request, reply, proto: session.protocolVersion, context: context, flush: false)
        }
        if let router {
            switch name {
            case "WATCH":
                switch TransactionCommands.watch(command, session: session) {
                case .failure(let error):
                    return finish(request, error.value, proto: session.protocolVersion, context: context, flush: false)
                case .success(let args):
                    let keys = Array(args.dropFirst())
                    return runRouted(args, name: name, request: request, router: router, context: context, timer: timer, started: started,
                                     barrier: true) { handler, value in
                        TransactionCommands.watched(keys, reply: value, session: &handler.session)
                    }
                }
            case "EXEC" where session.transaction != nil:
                return exec(request: request, router: router, context: context, timer: timer, started: started)
            default:
                break
            }
        }
        if let router, spec.scope == .routed {
            let args = command.parts.map { Array($0.readableBytesView) }
            return runRouted(args, name: name, request: request, router: router, context: context, timer: timer, started: started) { $1 }
        }
        let reply = runLocally(command)
        if session.isClosing { closeAfter = request }
        timer.recordNanoseconds(Int64(monotonicNanos() - started))
        // After the command: HELLO 3 is itself answered in RESP3, as Redis does.
        finish(request, reply, proto: session.protocolVersion, context: context, flush: false)
    }

    /// A command the connection answers itself.
    private func runLocally(_ command: RESPCommand) -> RESPValue {
        let uptime = (ContinuousClock.now - startedAt).components.seconds
        return ConnectionCommands.reply(to: command, session: &session, identity: identity, uptimeSeconds: uptime)
    }

    /// Sends `args` through the router; `then` turns the reply into the client's, on this
    /// connection's event loop.
    private func runRouted(_ args: [[UInt8]], name: String, request: Int, router: CommandRouter, context: ChannelHandlerContext,
                           timer: CoreMetrics.Timer, started: UInt64, barrier: Bool = false,
                           then: @escaping (RESPConnectionHandler, RESPValue) -> RESPValue) {
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let ctx = NIOLoopBound(context, eventLoop: loop)
        let then = NIOLoopBound(then, eventLoop: loop)
        let proto = session.protocolVersion
        if barrier { self.barrier = request }
        router.execute(args, name: name, session: &routeSession, hops: 0) { value in
            timer.recordNanoseconds(Int64(monotonicNanos() - started))
            if loop.inEventLoop {
                // Completed inside this read (no flush needed yet) or later on this loop.
                let h = handler.value
                h.finish(request, then.value(h, value), proto: proto, context: ctx.value, flush: !h.reading)
            } else {
                loop.execute {
                    let h = handler.value
                    h.finish(request, then.value(h, value), proto: proto, context: ctx.value, flush: true)
                }
            }
        }
    }

    /// EXEC: the block's key commands go to their shard as one `MYSTORE.TXN`; the connection's
    /// own commands run when it returns, their replies put in their places.
    private func exec(request: Int, router: CommandRouter, context: ChannelHandlerContext, timer: CoreMetrics.Timer, started: UInt64) {
        switch TransactionCommands.exec(session: &session) {
        case .reply(let value):
            finish(request, value, proto: session.protocolVersion, context: context, flush: false)
        case .localOnly(let commands):
            let value = RESPValue.array(commands.map(runLocally))
            finish(request, value, proto: session.protocolVersion, context: context, flush: false)
        case let .routed(args, local, total):
            runRouted(args, name: Transaction.commandName, request: request, router: router, context: context, timer: timer, started: started,
                      barrier: true) { handler, value in
                TransactionCommands.assemble(routed: value, local: local, total: total, run: handler.runLocally)
            }
        }
    }

    private func finish(_ request: Int, _ value: RESPValue, proto: RESPProtocol, context: ChannelHandlerContext, flush: Bool) {
        requestsInFlight.subtract(1, ordering: .relaxed)
        if barrier == request { barrier = nil }
        guard !session.isClosing || closeAfter != nil else { return }
        finished[request] = (value, proto)
        // Only a reply that waits for an earlier one is counted (the usual in-order reply
        // leaves at once, and is never sized).
        if request != nextToWrite { finishedBytes += value.approximateBytes }
        var wrote = false
        while let (v, vProto) = finished.removeValue(forKey: nextToWrite) {
            if nextToWrite != request { finishedBytes -= v.approximateBytes }
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeRESPValue(v, protocol: vProto)
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
        if overOutputLimit(context) { return }
        if !waiting.isEmpty || readHeld { drain(context: context) }
        closeIfQuiet(context)
    }

    /// Disconnects a client whose unsent replies passed the output limit; returns whether it did.
    private func overOutputLimit(_ context: ChannelHandlerContext) -> Bool {
        guard limits.outputBufferLimit > 0, !context.channel.isWritable || finishedBytes > 0 else { return false }
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        guard buffered + finishedBytes > limits.outputBufferLimit else { return false }
        session.isClosing = true
        waiting.removeAll()
        finished = [:]
        metrics.clientsClosedForOutput.increment()
        Logs.clients.limited(Logs.limiter, key: "output-limit", .warning,
                             "closed a client whose unread replies passed client_output_buffer_limit (\(limits.outputBufferLimit) bytes)",
                             metadata: ["client": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "id": "\(session.id)"])
        context.close(promise: nil)
        return true
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
        Logs.clients.limited(Logs.limiter, key: "protocol-error", .info, "closed a client after a protocol error: \(protocolError.description)",
                             metadata: ["client": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "id": "\(session.id)"])
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeRESPValue(.error("ERR \(protocolError.description)"))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
