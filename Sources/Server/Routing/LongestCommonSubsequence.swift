import KVStore
import NIOCore

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as Redis 7 computes and replies
/// it: a read of both values (so it also runs inside MULTI), then the classic dynamic program
/// over their bytes; a missing key counts as the empty string.
enum LongestCommonSubsequence {
    struct Options: Sendable {
        var length = false
        var indexes = false
        var withMatchLength = false
        var minMatchLength: Int64 = 0
    }

    /// Redis refuses a table larger than `proto-max-bulk-len` (512 MB of 4-byte cells).
    static let maxTableBytes: UInt64 = 512 << 20

    static func parse(_ a: [[UInt8]], checkKey: ([UInt8]) -> ErrorReply?) -> Result<ParsedCommand, ErrorReply> {
        guard a.count >= 2 else { return .failure(ErrorReply("ERR wrong number of arguments for 'lcs' command")) }
        if let e = checkKey(a[0]) ?? checkKey(a[1]) { return .failure(e) }
        var options = Options()
        var i = 2
        while i < a.count {
            switch String(decoding: a[i], as: UTF8.self).uppercased() {
            case "IDX": options.indexes = true
            case "LEN": options.length = true
            case "WITHMATCHLEN": options.withMatchLength = true
            case "MINMATCHLEN" where i + 1 < a.count:
                guard let n = Int64(String(decoding: a[i + 1], as: UTF8.self)) else {
                    return .failure(ErrorReply("ERR value is not an integer or out of range"))
                }
                options.minMatchLength = max(n, 0)
                i += 1
            default:
                return .failure(ErrorReply("ERR syntax error"))
            }
            i += 1
        }
        if options.length && options.indexes {
            return .failure(ErrorReply("ERR If you want both the length and indexes, please just use IDX."))
        }
        let keys = [a[0], a[1]]
        return .success(.query(keys: keys, read: .getMany(keys: keys)) { [options] result in
            guard case .array(let values) = result, values.count == 2 else { return CommandParser.plain(result) }
            func bytes(_ r: KVResult) -> [UInt8] { if case .bulk(let b) = r { b } else { [] } }
            return reply(bytes(values[0]), bytes(values[1]), options)
        })
    }

    static func reply(_ a: [UInt8], _ b: [UInt8], _ options: Options) -> RESPValue {
        let rows = a.count + 1, columns = b.count + 1
        guard UInt64(rows) * UInt64(columns) * 4 <= maxTableBytes else {
            return .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        }
        // table[i * columns + j]: the LCS length of a[..<i] and b[..<j].
        var table = [UInt32](repeating: 0, count: rows * columns)
        for i in 1..<max(rows, 1) {
            for j in 1..<max(columns, 1) {
                table[i * columns + j] = a[i - 1] == b[j - 1]
                    ? table[(i - 1) * columns + j - 1] + 1
                    : max(table[(i - 1) * columns + j], table[i * columns + j - 1])
            }
        }
        let total = Int(table[rows * columns - 1])
        if options.length && !options.indexes { return .integer(Int64(total)) }

        // Walk back from the end, collecting the subsequence and, for IDX, the matching ranges
        // (last first), exactly as Redis emits them.
        var result = [UInt8](repeating: 0, count: total)
        var matches: [RESPValue] = []
        var remaining = total
        var i = a.count, j = b.count
        var range: (aStart: Int, aEnd: Int, bStart: Int, bEnd: Int)?
        while i > 0 && j > 0 {
            var emit = false
            if a[i - 1] == b[j - 1] {
                result[remaining - 1] = a[i - 1]
                if let r = range {
                    if r.aStart == i && r.bStart == j {
                        range = (r.aStart - 1, r.aEnd, r.bStart - 1, r.bEnd)
                    } else {
                        emit = true
                    }
                } else {
                    range = (i - 1, i - 1, j - 1, j - 1)
                }
                if let r = range, r.aStart == 0 || r.bStart == 0 { emit = true }
                remaining -= 1
                i -= 1
                j -= 1
            } else {
                if table[(i - 1) * columns + j] > table[i * columns + j - 1] { i -= 1 } else { j -= 1 }
                if range != nil { emit = true }
            }
            if emit, let r = range {
                let length = r.aEnd - r.aStart + 1
                if options.minMatchLength == 0 || Int64(length) >= options.minMatchLength {
                    var match: [RESPValue] = [.array([.integer(Int64(r.aStart)), .integer(Int64(r.aEnd))]),
                                              .array([.integer(Int64(r.bStart)), .integer(Int64(r.bEnd))])]
                    if options.withMatchLength { match.append(.integer(Int64(length))) }
                    matches.append(.array(match))
                }
                range = nil
            }
        }
        if options.indexes {
            return .map([.bulk("matches"), .array(matches), .bulk("len"), .integer(Int64(total))])
        }
        return .bulkString(ByteBuffer(bytes: result))
    }
}
