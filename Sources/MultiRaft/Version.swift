public enum MultiRaftVersion { public static let string = "0.1.0" }
