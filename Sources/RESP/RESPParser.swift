#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one RESP2 parser: requests (arrays of bulk strings, and inline commands) and replies
/// (every type, nested), every size bounded by ``Limits``.
///
/// Streaming: feed it bytes as they arrive (in any split) with ``append(_:)`` and take complete
/// messages out in order with ``next()`` or ``nextRequest()``. A message is consumed only once
/// all of it is buffered; an incomplete one is parsed again when more bytes arrive (cheap:
/// bulk bodies are skipped by length, and every size is bounded).
///
/// Callers that already hold the bytes (a NIO buffer, a receive buffer) parse them in place
/// with ``parseRequest(_:streamOffset:part:)``, ``parseReply(_:from:streamOffset:)`` or, when
/// only where a reply ends matters, ``skipReply(_:from:to:)``.
public struct RESPParser: Sendable {
    /// Bounds on what one message may hold, so a peer cannot make the reader buffer or
    /// recurse without limit.
    public struct Limits: Hashable, Sendable {
        /// Largest bulk string, in bytes. Default 512 MiB.
        public var maxBulkBytes: Int
        /// Most elements in one array (a request's name included). Default `Int32.max`.
        public var maxArrayElements: Int
        /// Deepest array nesting in a reply. Default 32.
        public var maxNestingDepth: Int
        /// Longest simple string, error or header line after its type byte, CRLF excluded
        /// (bytes). Default 64 KiB.
        public var maxLineBytes: Int
        /// Longest inline command line, in bytes. Default 64 KiB.
        public var maxInlineBytes: Int
        /// Largest request, framing included, in bytes. Default unbounded.
        public var maxRequestBytes: Int

        public init(maxBulkBytes: Int = 512 * 1024 * 1024, maxArrayElements: Int = Int(Int32.max), maxNestingDepth: Int = 32,
                    maxLineBytes: Int = 64 * 1024, maxInlineBytes: Int = 64 * 1024, maxRequestBytes: Int = Int.max) {
            self.maxBulkBytes = maxBulkBytes
            self.maxArrayElements = maxArrayElements
            self.maxNestingDepth = maxNestingDepth
            self.maxLineBytes = maxLineBytes
            self.maxInlineBytes = maxInlineBytes
            self.maxRequestBytes = maxRequestBytes
        }
    }

    public let limits: Limits

    private var buffer: [UInt8] = []
    /// Index in `buffer` of the first byte not yet consumed.
    private var readIndex = 0
    /// Stream offset of `buffer[0]` (bytes already discarded).
    private var discarded = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// A reply parser with the given bulk and nesting limits (the others at their defaults).
    public init(maxBulkBytes: Int = 512 * 1024 * 1024, maxNestingDepth: Int = 32) {
        self.init(limits: Limits(maxBulkBytes: maxBulkBytes, maxNestingDepth: maxNestingDepth))
    }

    /// Largest bulk string accepted, in bytes.
    public var maxBulkBytes: Int { limits.maxBulkBytes }
    /// Deepest array nesting accepted.
    public var maxNestingDepth: Int { limits.maxNestingDepth }

    // MARK: - Streaming

    /// Bytes received and not yet consumed by a complete message.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if readIndex > 0, readIndex == buffer.count || readIndex >= 64 * 1024 {
            // Drop what complete messages consumed, so the buffer does not grow without bound.
            discarded += readIndex
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, or nil until more bytes arrive.
    public mutating func next() throws(RESPError) -> RESPReply? {
        var index = readIndex
        let base = discarded
        let reply = try withBufferedBytes { bytes throws(RESPError) in
            try parseReply(bytes, from: &index, streamOffset: base)
        }
        if reply != nil { readIndex = index }
        return reply
    }

    /// The next complete non-empty request (name and arguments), or nil until more bytes
    /// arrive. Empty requests (`*0`, blank lines) are consumed silently, as Redis does.
    public mutating func nextRequest() throws(RESPError) -> [[UInt8]]? {
        while true {
            let start = readIndex
            let base = discarded + start
            let request = try withBufferedBytes { bytes throws(RESPError) in
                try parseRequest(UnsafeRawBufferPointer(rebasing: bytes[start...]), streamOffset: base) { Array($0) }
            }
            guard let request else { return nil }
            readIndex += request.consumed
            if !request.parts.isEmpty { return request.parts }
        }
    }

    /// Runs `body` over the buffered bytes, keeping its error type.
    private func withBufferedBytes<Result>(_ body: (UnsafeRawBufferPointer) throws(RESPError) -> Result) throws(RESPError) -> Result {
        try buffer.withUnsafeBytes { bytes in Swift.Result { () throws(RESPError) in try body(bytes) } }.get()
    }

    // MARK: - Parsing bytes in place

    /// Exactly one complete reply in `bytes`, nil when they are anything else (incomplete,
    /// malformed, or followed by more).
    public func reply<Bytes: Collection>(exactlyIn bytes: Bytes) -> RESPReply? where Bytes.Element == UInt8 {
        let contiguous = Array(bytes)
        return contiguous.withUnsafeBytes { raw in
            var index = 0
            guard let reply = try? parseReply(raw, from: &index), index == raw.count else { return nil }
            return reply
        }
    }

    /// The reply starting at `index`, advancing `index` past it; nil (and `index` unchanged)
    /// when the bytes end before the reply does. `streamOffset` is added to error offsets.
    public func parseReply(_ bytes: UnsafeRawBufferPointer, from index: inout Int, streamOffset: Int = 0) throws(RESPError) -> RESPReply? {
        var cursor = index
        guard let parsed = try value(bytes, &cursor, depth: 0, build: true, base: streamOffset) else { return nil }
        index = cursor
        return parsed.value
    }

    /// Where the reply starting at `from` ends (the index after it) and its type, without
    /// building it: for readers that only count replies and spot errors. Nil when the bytes
    /// before `to` end before the reply does.
    public func skipReply(_ bytes: UnsafeRawBufferPointer, from: Int, to end: Int) throws(RESPError) -> (end: Int, kind: RESPReply.Kind)? {
        var cursor = from
        guard let parsed = try value(UnsafeRawBufferPointer(rebasing: bytes[..<end]), &cursor, depth: 0, build: false, base: 0) else { return nil }
        return (cursor, parsed.kind)
    }

    /// The request at the start of `bytes`: its parts (each made by `part` from the bytes of
    /// one argument) and how many bytes it took; nil when more bytes are needed. An empty
    /// request (`*0`, `*-1`, a blank line) has no parts. `streamOffset` is added to error
    /// offsets.
    public func parseRequest<Part>(_ bytes: UnsafeRawBufferPointer, streamOffset: Int = 0,
                                   part: (UnsafeRawBufferPointer) -> Part) throws(RESPError) -> (parts: [Part], consumed: Int)? {
        guard let first = bytes.first else { return nil }
        return first == UInt8(ascii: "*")
            ? try arrayRequest(bytes, base: streamOffset, part: part)
            : try inlineRequest(bytes, base: streamOffset, part: part)
    }

    // MARK: - Replies

    /// The value starting at `i`, advancing `i` past it; nil when the bytes end first. With
    /// `build` false nothing is allocated and the value is a placeholder (only `kind` is set).
    private func value(_ b: UnsafeRawBufferPointer, _ i: inout Int, depth: Int, build: Bool,
                       base: Int) throws(RESPError) -> (kind: RESPReply.Kind, value: RESPReply)? {
        guard i < b.count else { return nil }
        let typeOffset = i
        let type = b[i]
        i += 1
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let lineEnd = try line(b, from: i, base: base) else { return nil }
            defer { i = lineEnd + 2 }
            let kind: RESPReply.Kind = type == UInt8(ascii: "+") ? .simpleString : .error
            guard build else { return (kind, .null) }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[i..<lineEnd]), as: UTF8.self)
            return (kind, kind == .simpleString ? .simpleString(text) : .error(text))
        case UInt8(ascii: ":"):
            guard let number = try integerLine(b, &i, type: type, base: base) else { return nil }
            return (.integer, .integer(number))
        case UInt8(ascii: "$"):
            let headerOffset = i
            guard let length = try integerLine(b, &i, type: type, base: base) else { return nil }
            if length == -1 { return (.null, .null) }
            guard length >= 0, length <= limits.maxBulkBytes else {
                throw RESPError(offset: base + headerOffset, kind: .invalidBulkLength(length, limit: limits.maxBulkBytes))
            }
            let end = i + Int(length)
            guard end + 2 <= b.count else { return nil }
            guard b[end] == 13, b[end + 1] == 10 else {
                throw RESPError(offset: base + end, kind: .expectedCRLF(afterBulkOf: Int(length)))
            }
            defer { i = end + 2 }
            return (.bulkString, build ? .bulkString(Array(UnsafeRawBufferPointer(rebasing: b[i..<end]))) : .null)
        case UInt8(ascii: "*"):
            let headerOffset = i
            guard let count = try integerLine(b, &i, type: type, base: base) else { return nil }
            if count == -1 { return (.nullArray, .nullArray) }
            guard count >= 0, count <= limits.maxArrayElements else {
                throw RESPError(offset: base + headerOffset, kind: .invalidArrayLength(count, limit: limits.maxArrayElements))
            }
            guard depth < limits.maxNestingDepth else {
                throw RESPError(offset: base + typeOffset, kind: .nestedTooDeep(limit: limits.maxNestingDepth))
            }
            var elements: [RESPReply] = []
            // Each element takes at least 3 bytes; don't reserve for more than could be buffered.
            if build { elements.reserveCapacity(min(Int(count), (b.count - i) / 3 + 1)) }
            for _ in 0..<count {
                guard let element = try value(b, &i, depth: depth + 1, build: build, base: base) else { return nil }
                if build { elements.append(element.value) }
            }
            return (.array, .array(elements))
        default:
            throw RESPError(offset: base + typeOffset, kind: .unknownType(type))
        }
    }

    // MARK: - Requests

    private func arrayRequest<Part>(_ b: UnsafeRawBufferPointer, base: Int,
                                    part: (UnsafeRawBufferPointer) -> Part) throws(RESPError) -> (parts: [Part], consumed: Int)? {
        var position = 1
        guard let count = try integerLine(b, &position, type: UInt8(ascii: "*"), base: base) else { return nil }
        guard count <= limits.maxArrayElements else {
            throw RESPError(offset: base + 1, kind: .invalidArrayLength(count, limit: limits.maxArrayElements))
        }
        var parts: [Part] = []
        parts.reserveCapacity(max(0, min(Int(count), 1024)))
        for _ in 0..<max(0, count) {
            guard position < b.count else { return nil }
            guard b[position] == UInt8(ascii: "$") else {
                throw RESPError(offset: base + position, kind: .notABulkString(b[position]))
            }
            position += 1
            let headerOffset = position
            guard let length = try integerLine(b, &position, type: UInt8(ascii: "$"), base: base) else { return nil }
            guard length >= 0, length <= limits.maxBulkBytes else {
                throw RESPError(offset: base + headerOffset, kind: .invalidBulkLength(length, limit: limits.maxBulkBytes))
            }
            let bodyEnd = position + Int(length)
            // Refused as soon as the header announces too much, before the body is buffered.
            guard bodyEnd + 2 <= limits.maxRequestBytes else {
                throw RESPError(offset: base + headerOffset, kind: .requestTooLarge(limit: limits.maxRequestBytes))
            }
            guard bodyEnd + 2 <= b.count else { return nil }
            guard b[bodyEnd] == 13, b[bodyEnd + 1] == 10 else {
                throw RESPError(offset: base + bodyEnd, kind: .expectedCRLF(afterBulkOf: Int(length)))
            }
            parts.append(part(UnsafeRawBufferPointer(rebasing: b[position..<bodyEnd])))
            position = bodyEnd + 2
        }
        return (parts, position)
    }

    /// A line of words separated by spaces or tabs, ended by LF or CRLF (as typed into
    /// `telnet` or `nc`).
    private func inlineRequest<Part>(_ b: UnsafeRawBufferPointer, base: Int,
                                     part: (UnsafeRawBufferPointer) -> Part) throws(RESPError) -> (parts: [Part], consumed: Int)? {
        let searchEnd = min(b.count, limits.maxInlineBytes + 1)
        guard let newline = UnsafeRawBufferPointer(rebasing: b[..<searchEnd]).firstIndex(of: UInt8(ascii: "\n")) else {
            if searchEnd > limits.maxInlineBytes {
                throw RESPError(offset: base + limits.maxInlineBytes, kind: .inlineTooLong(limit: limits.maxInlineBytes))
            }
            return nil
        }
        var lineEnd = newline
        if lineEnd > 0, b[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        let words = b[..<lineEnd].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard words.count <= limits.maxArrayElements else {
            throw RESPError(offset: base, kind: .tooManyArguments(words.count, limit: limits.maxArrayElements))
        }
        return (words.map { part(UnsafeRawBufferPointer(rebasing: $0)) }, newline + 1)
    }

    // MARK: - Lines

    /// The index of the CR ending the line that starts at `start`; nil when no CRLF is
    /// buffered yet. A CR must be followed by LF, and the line must fit `maxLineBytes`.
    private func line(_ b: UnsafeRawBufferPointer, from start: Int, base: Int) throws(RESPError) -> Int? {
        let limit = limits.maxLineBytes >= b.count - start ? b.count : start + limits.maxLineBytes + 1
        guard let cr = UnsafeRawBufferPointer(rebasing: b[start..<limit]).firstIndex(of: 13).map({ start + $0 }) else {
            if limit - start > limits.maxLineBytes {
                throw RESPError(offset: base + start + limits.maxLineBytes, kind: .lineTooLong(limit: limits.maxLineBytes))
            }
            return nil
        }
        guard cr + 1 < b.count else { return nil }
        guard b[cr + 1] == 10 else { throw RESPError(offset: base + cr + 1, kind: .expectedLF) }
        return cr
    }

    /// A decimal integer line (`-12\r\n`: an optional minus, then digits) starting at `i`,
    /// advancing `i` past its CRLF; nil when incomplete.
    private func integerLine(_ b: UnsafeRawBufferPointer, _ i: inout Int, type: UInt8, base: Int) throws(RESPError) -> Int64? {
        let start = i
        guard let end = try line(b, from: start, base: base) else { return nil }
        var cursor = start
        let negative = cursor < end && b[cursor] == UInt8(ascii: "-")
        if negative { cursor += 1 }
        var value: Int64 = 0
        var valid = cursor < end
        while valid && cursor < end {
            let digit = Int64(b[cursor]) - 48
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(digit)
            valid = digit >= 0 && digit <= 9 && !o1 && !o2
            value = sum
            cursor += 1
        }
        guard valid else {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<min(end, start + 24)]), as: UTF8.self)
            throw RESPError(offset: base + start, kind: .notAnInteger(type: type, text: text))
        }
        i = end + 2
        return negative ? -value : value
    }
}
