/// Where a config value came from, and what is wrong with it.
struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `file:line`, `environment MYSTORE_KEY` or `--set key=value`.
    let location: String
    /// What is wrong, in words a user can act on.
    let message: String

    var description: String { "\(location): \(message)" }
}

extension NodeConfig {
    /// Builds a config from the defaults, then `file` (its text and its name for messages),
    /// then `MYSTORE_<KEY>` variables in `environment`, then `overrides` (`key=value` each,
    /// from `--set`): a later source wins. Unknown `MYSTORE_` variables are ignored, since
    /// scripts may use the prefix for their own settings.
    static func load(
        file: (text: String, name: String)?,
        environment: [String: String],
        overrides: [String]
    ) throws(ConfigError) -> NodeConfig {
        var config = NodeConfig()
        if let file { try config.apply(fileText: file.text, name: file.name) }
        try config.apply(environment: environment)
        try config.apply(overrides: overrides)
        if let problem = config.inconsistency() {
            throw ConfigError(location: "config", message: problem)
        }
        return config
    }

    /// Applies a `key = value` file. Lines that are blank or start with `#` are ignored.
    mutating func apply(fileText: String, name: String) throws(ConfigError) {
        let lines = fileText.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (index, rawLine) in lines.enumerated() {
            let location = "\(name):\(index + 1)"
            let line = rawLine.trimmed()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError(location: location, message: "expected `key = value`, got \"\(line)\"")
            }
            try set(key: String(line[..<equals].trimmed()), value: String(line[line.index(after: equals)...].trimmed()), location: location)
        }
    }

    /// Applies every `MYSTORE_<KEY>` variable that names a known setting.
    mutating func apply(environment: [String: String]) throws(ConfigError) {
        for setting in Self.settings {
            if let value = environment[setting.environmentVariable] {
                try set(key: setting.key, value: String(value.trimmed()), location: "environment \(setting.environmentVariable)")
            }
        }
    }

    /// Applies `key=value` overrides, in order.
    mutating func apply(overrides: [String]) throws(ConfigError) {
        for override in overrides {
            let location = "--set \(override)"
            guard let equals = override.firstIndex(of: "=") else {
                throw ConfigError(location: location, message: "expected key=value")
            }
            try set(key: String(override[..<equals].trimmed()), value: String(override[override.index(after: equals)...].trimmed()), location: location)
        }
    }

    /// Sets one setting by name; errors name `location`, the key and what it expects.
    mutating func set(key: String, value: String, location: String) throws(ConfigError) {
        guard let setting = Self.settings.first(where: { $0.key == key }) else {
            let known = Self.settings.map(\.key).joined(separator: ", ")
            throw ConfigError(location: location, message: "unknown setting \"\(key)\" (known settings: \(known))")
        }
        guard setting.apply(&self, value) else {
            throw ConfigError(location: location, message: "\(key) expects \(setting.expected), got \"\(value)\"")
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace (including `\r`).
    func trimmed() -> SubSequence {
        guard let start = firstIndex(where: { !$0.isWhitespace }),
              let end = lastIndex(where: { !$0.isWhitespace })
        else { return self[endIndex...] }
        return self[start...end]
    }
}
