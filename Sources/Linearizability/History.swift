import Foundation

/// The history file: one JSON object per line, one line per operation, e.g.
///
///     {"client":3,"op":"set-ifeq","key":"k1","args":["7","6"],"invoke":1200,"complete":1350,"outcome":"ok","result":"OK"}
///     {"client":4,"op":"incr","key":"k2","args":[],"invoke":1300,"outcome":"unknown","result":null}
///
/// `op` is get, set, set-nx, set-ifeq, del or incr; `result` a string, an integer or null;
/// `complete` is absent (or null) for unknown outcomes. Blank lines are ignored.
public enum HistoryFile {
    public struct FormatError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "history line \(line): \(message)" }
    }

    public static func encodeLine(_ op: HistoryOp) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain values cannot fail.
        return String(decoding: (try? encoder.encode(op)) ?? Data(), as: UTF8.self)
    }

    public static func encode(_ history: [HistoryOp]) -> String {
        history.map { encodeLine($0) + "\n" }.joined()
    }

    public static func decode(_ text: String) throws -> [HistoryOp] {
        let decoder = JSONDecoder()
        var ops: [HistoryOp] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            do {
                ops.append(try decoder.decode(HistoryOp.self, from: Data(trimmed.utf8)))
            } catch {
                throw FormatError(line: lineNumber, message: String(describing: error))
            }
        }
        return ops
    }

    public static func read(path: String) throws -> [HistoryOp] {
        try decode(String(contentsOfFile: path, encoding: .utf8))
    }
}
