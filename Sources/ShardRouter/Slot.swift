public enum ShardRouterPlaceholder {}
