import RESP
import Testing

@Suite("RESP2 limits, requests and skipping")
struct RESPLimitsTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The first error parsing `text` as replies with `limits`.
    static func replyError(_ text: String, _ limits: RESPParser.Limits = .init()) -> RESPError? {
        firstError(text, limits) { parser throws(RESPError) in try parser.next() != nil }
    }

    /// The first error parsing `text` as requests with `limits`.
    static func requestError(_ text: String, _ limits: RESPParser.Limits = .init()) -> RESPError? {
        firstError(text, limits) { parser throws(RESPError) in try parser.nextRequest() != nil }
    }

    /// The first error taking messages out of a parser fed `text` until `take` finds none.
    static func firstError(_ text: String, _ limits: RESPParser.Limits,
                           take: (inout RESPParser) throws(RESPError) -> Bool) -> RESPError? {
        var parser = RESPParser(limits: limits)
        parser.append(bytes(text))
        do throws(RESPError) {
            while try take(&parser) {}
            return nil
        } catch {
            return error
        }
    }

    @Test func oversizedBulkIsRefusedBeforeItsBody() {
        let limits = RESPParser.Limits(maxBulkBytes: 10)
        #expect(Self.replyError("$11\r\n", limits) == RESPError(offset: 1, kind: .invalidBulkLength(11, limit: 10)))
        #expect(Self.requestError("*1\r\n$11\r\n", limits) == RESPError(offset: 5, kind: .invalidBulkLength(11, limit: 10)))
        #expect(Self.replyError("$10\r\n0123456789\r\n", limits) == nil)
        // The whole request is bounded too, framing included.
        let small = RESPParser.Limits(maxRequestBytes: 20)
        #expect(Self.requestError("*2\r\n$3\r\nSET\r\n$4\r\n", small) == RESPError(offset: 14, kind: .requestTooLarge(limit: 20)))
    }

    @Test func tooManyElementsAreRefused() {
        let limits = RESPParser.Limits(maxArrayElements: 2)
        #expect(Self.replyError("*3\r\n", limits) == RESPError(offset: 1, kind: .invalidArrayLength(3, limit: 2)))
        #expect(Self.requestError("*3\r\n", limits) == RESPError(offset: 1, kind: .invalidArrayLength(3, limit: 2)))
        #expect(Self.requestError("a b c\r\n", limits) == RESPError(offset: 0, kind: .tooManyArguments(3, limit: 2)))
        #expect(Self.replyError("*-2\r\n") == RESPError(offset: 1, kind: .invalidArrayLength(-2, limit: Int(Int32.max))))
    }

    @Test func tooDeepNestingIsRefused() {
        let limits = RESPParser.Limits(maxNestingDepth: 3)
        #expect(Self.replyError("*1\r\n*1\r\n*1\r\n:1\r\n", limits) == nil)
        #expect(Self.replyError("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits) == RESPError(offset: 12, kind: .nestedTooDeep(limit: 3)))
    }

    @Test func garbageTypeBytesAreRefused() {
        #expect(Self.replyError("+OK\r\n\u{7}x\r\n") == RESPError(offset: 5, kind: .unknownType(7)))
        #expect(Self.requestError("*1\r\n:1\r\n") == RESPError(offset: 4, kind: .notABulkString(UInt8(ascii: ":"))))
        #expect(Self.replyError("+a\rb\r\n") == RESPError(offset: 3, kind: .expectedLF))
        #expect(Self.replyError(":+5\r\n") == RESPError(offset: 1, kind: .notAnInteger(type: UInt8(ascii: ":"), text: "+5")))
        #expect(Self.replyError(":99999999999999999999\r\n") != nil)
    }

    @Test func longLinesAreRefusedWithoutWaitingForTheirEnd() {
        let limits = RESPParser.Limits(maxLineBytes: 8, maxInlineBytes: 8)
        #expect(Self.replyError("+12345678\r\n", limits) == nil)
        #expect(Self.replyError("+123456789", limits) == RESPError(offset: 9, kind: .lineTooLong(limit: 8)))
        #expect(Self.replyError("+12345678", limits) == nil)  // may still end
        #expect(Self.requestError("123456789", limits) == RESPError(offset: 8, kind: .inlineTooLong(limit: 8)))
        #expect(Self.requestError("1234567\n", limits) == nil)
    }

    static let requests = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\nw\r\n*0\r\nPING\r\n\r\nset  a\tb\n*-1\r\n*1\r\n$0\r\n\r\n"
    static let requestsParsed: [[String]] = [["SET", "k", "v\r\nw"], ["PING"], ["set", "a", "b"], [""]]

    /// Requests fed one byte at a time and split in two at every position come out whole,
    /// once each, empty requests skipped.
    @Test func parsesRequestsSplitAtEveryByte() throws {
        let bytes = Self.bytes(Self.requests)
        var parser = RESPParser()
        var got: [[String]] = []
        for byte in bytes {
            parser.append([byte])
            while let request = try parser.nextRequest() { got.append(request.map { String(decoding: $0, as: UTF8.self) }) }
        }
        #expect(got == Self.requestsParsed)
        #expect(parser.bufferedByteCount == 0)
        for cut in 1..<bytes.count {
            var split = RESPParser()
            var parts: [[String]] = []
            split.append(bytes[..<cut])
            while let request = try split.nextRequest() { parts.append(request.map { String(decoding: $0, as: UTF8.self) }) }
            split.append(bytes[cut...])
            while let request = try split.nextRequest() { parts.append(request.map { String(decoding: $0, as: UTF8.self) }) }
            #expect(parts == Self.requestsParsed, "cut at \(cut)")
        }
    }

    /// Skipping finds the same reply ends and types as parsing, and waits for the same bytes.
    @Test func skippingAgreesWithParsing() throws {
        let bytes = Self.bytes(RESPParserTests.everyType)
        let parser = RESPParser()
        try bytes.withUnsafeBytes { raw in
            var position = 0
            var kinds: [RESPReply.Kind] = []
            while let (end, kind) = try parser.skipReply(raw, from: position, to: raw.count) {
                var index = position
                let parsed = try #require(try parser.parseReply(raw, from: &index))
                #expect(index == end)
                #expect(parsed.kind == kind)
                kinds.append(kind)
                // Every proper prefix of the reply is incomplete.
                for cut in position..<end { #expect(try parser.skipReply(raw, from: position, to: cut) == nil) }
                position = end
            }
            #expect(position == raw.count)
            #expect(kinds == RESPParserTests.everyTypeParsed.map(\.kind))
        }
    }

    @Test func exactlyOneReply() {
        let parser = RESPParser()
        #expect(parser.reply(exactlyIn: Self.bytes(":12\r\n")) == .integer(12))
        #expect(parser.reply(exactlyIn: Self.bytes(":12\r\n+OK\r\n")) == nil)
        #expect(parser.reply(exactlyIn: Self.bytes("$3\r\nab")) == nil)
        #expect(parser.reply(exactlyIn: Self.bytes("?")) == nil)
    }

    @Test func encodedValuesParseBack() throws {
        var parser = RESPParser()
        for reply in RESPParserTests.everyTypeParsed { parser.append(RESPEncoder.encode(reply)) }
        var replies: [RESPReply] = []
        while let reply = try parser.next() { replies.append(reply) }
        #expect(replies == RESPParserTests.everyTypeParsed)
        #expect(RESPEncoder.encode(.error("ERR a\r\nb")) == Self.bytes("-ERR a  b\r\n"))
    }
}
