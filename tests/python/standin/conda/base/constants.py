OK_MARK = "\u2705"
X_MARK = "\u274c"
