/// A small reader and runner for datadriven test files (the format of etcd-io/raft's
/// testdata): each step is a command line, a `----` line, the expected output and a blank line.
/// Lines starting with `#` and blank lines between steps are commentary, kept as they are when
/// the file is rewritten with actual outputs.
///
///     # A comment saying what the next step shows.
///     campaign 1
///     ----
///     1: preCandidate term=1 ...
///
/// Outputs may not contain blank lines (a blank line ends the step); an empty output is
/// written as `ok`.
enum DataDriven {
    /// One command and the output the file expects from it.
    struct Step: Sendable, Equatable {
        /// 1-based line of the command in the file.
        var line: Int
        var command: String
        var expected: String
    }

    enum Chunk: Sendable, Equatable {
        /// A comment or blank line between steps.
        case prose(String)
        case step(Step)
    }

    struct ParseError: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var message: String
        var description: String { "\(file):\(line): \(message)" }
    }

    /// A step whose actual output differs from the expected one, or that failed to run.
    struct Mismatch: Sendable, CustomStringConvertible {
        var file: String
        var step: Step
        var actual: String

        var description: String {
            """
            \(file):\(step.line): output of `\(step.command)` differs from the file
            --- diff (- expected, + actual)
            \(DataDriven.lineDiff(expected: step.expected, actual: actual))
            --- expected
            \(step.expected)
            --- actual
            \(actual)
            """
        }
    }

    /// The result of running a script: the steps that did not match, and the script with
    /// every expected output replaced by the actual one (for rewrite mode).
    struct RunResult: Sendable {
        var steps: Int
        var mismatches: [Mismatch]
        /// Steps whose command failed to run (a typo, a missing replica): reported even when
        /// rewriting, since their output is not a behaviour to record.
        var errors: [Mismatch]
        var rewritten: String
    }

    static func parse(_ text: String, file: String) throws(ParseError) -> [Chunk] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if text.hasSuffix("\n") { lines.removeLast() }
        var chunks: [Chunk] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.trimmingWhitespace().isEmpty || line.hasPrefix("#") {
                chunks.append(.prose(line))
                i += 1
                continue
            }
            let commandLine = i + 1
            guard i + 1 < lines.count, lines[i + 1] == "----" else {
                throw ParseError(file: file, line: commandLine, message: "command `\(line)` is not followed by a `----` line")
            }
            i += 2
            var expected: [String] = []
            while i < lines.count && !lines[i].isEmpty {
                expected.append(lines[i])
                i += 1
            }
            if i < lines.count { i += 1 }  // the blank line that ends the step
            chunks.append(.step(Step(line: commandLine, command: line, expected: expected.joined(separator: "\n"))))
        }
        return chunks
    }

    /// Compares one step's output with what the file expects; nil when they agree. Trailing
    /// whitespace on a line and an empty output written as `ok` are not differences.
    static func compare(file: String, step: Step, actual: String) -> Mismatch? {
        normalize(step.expected) == normalize(actual) ? nil : Mismatch(file: file, step: step, actual: normalize(actual))
    }

    /// Runs every step in order with `execute` and compares its output with the file's. An
    /// error thrown by `execute` is a mismatch whose actual output is the error.
    static func run(_ text: String, file: String, execute: (String) throws -> String) throws(ParseError) -> RunResult {
        let chunks = try parse(text, file: file)
        var mismatches: [Mismatch] = []
        var errors: [Mismatch] = []
        var out: [String] = []
        var steps = 0
        for chunk in chunks {
            switch chunk {
            case .prose(let line):
                out.append(line)
            case .step(let step):
                steps += 1
                let actual: String
                do {
                    actual = try execute(step.command)
                } catch {
                    actual = "error running the step: \(error)"
                    errors.append(Mismatch(file: file, step: step, actual: actual))
                }
                if let m = compare(file: file, step: step, actual: actual) { mismatches.append(m) }
                out.append(step.command)
                out.append("----")
                out.append(normalize(actual))
                out.append("")
            }
        }
        return RunResult(steps: steps, mismatches: mismatches, errors: errors, rewritten: out.joined(separator: "\n") + "\n")
    }

    static func normalize(_ output: String) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).trimmingTrailingWhitespace() }
            .filter { !$0.isEmpty }
        return lines.isEmpty ? "ok" : lines.joined(separator: "\n")
    }

    /// A line diff by longest common subsequence: `  ` kept, `- ` only expected, `+ ` only actual.
    static func lineDiff(expected: String, actual: String) -> String {
        let a = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // lcs[i][j] = length of the LCS of a[i...] and b[j...]
        var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count && j < b.count && a[i] == b[j] {
                out.append("  " + a[i]); i += 1; j += 1
            } else if i < a.count && (j == b.count || lcs[i + 1][j] >= lcs[i][j + 1]) {
                out.append("- " + a[i]); i += 1
            } else {
                out.append("+ " + b[j]); j += 1
            }
        }
        return out.joined(separator: "\n")
    }
}

/// A parsed command line: `name pos1 pos2 key=value key=(a,b)`.
struct DataDrivenCommand {
    var name: String
    var positional: [String] = []
    var args: [String: String] = [:]

    init(_ line: String) {
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        name = tokens.first ?? ""
        for t in tokens.dropFirst() {
            if let eq = t.firstIndex(of: "=") {
                args[String(t[..<eq])] = String(t[t.index(after: eq)...])
            } else {
                positional.append(t)
            }
        }
    }
}

fileprivate extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return String(s)
    }

    func trimmingWhitespace() -> String {
        var s = Substring(trimmingTrailingWhitespace())
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        return String(s)
    }
}
