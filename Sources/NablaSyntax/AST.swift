/// Binary operators, loosest first: `+ -`, then `* / @ ·`, then `^`.
public enum BinaryOperator: String, Sendable, CaseIterable {
    case add = "+", sub = "-", mul = "*", div = "/", matmul = "@", dot = "·", pow = "^"
}

/// An expression: what it is, where it is, and its source text (its node's label).
public struct Expr: Sendable, Equatable {
    public indirect enum Kind: Sendable, Equatable {
        case number(Double)
        case name(String)
        /// `[a, b]`, `[[1, 2], [3, 4]]`
        case array([Expr])
        /// A big literal of plain numbers, read without an `Expr` per number (`NumericLiteral`):
        /// its numbers in row-major order and its shape.
        case numbers([Double], shape: [Int])
        case negate(Expr)
        case binary(BinaryOperator, Expr, Expr)
        /// Postfix `'`.
        case transpose(Expr)
        /// `f(a, b)`; `nameRange` is where the function's name is.
        case call(String, [Expr], nameRange: SourceRange)
        /// `x[i]`, `W[i, j]`
        case index(Expr, [Expr])
        /// `∂L/∂w`, the gradient as a value (an alias for `grad(L, w)`).
        case partial(of: Expr, wrt: Expr)
    }

    public var kind: Kind
    public var range: SourceRange
    /// The source text, exactly as typed.
    public var text: String
    /// The longest path to a leaf of this expression tree (1 for a leaf).
    public var height: Int

    public init(_ kind: Kind, range: SourceRange, text: String, height: Int) {
        self.kind = kind
        self.range = range
        self.text = text
        self.height = height
    }

    /// True for a number or an array of numbers, possibly negated: a value typed literally.
    public var isLiteral: Bool {
        switch kind {
        case .number, .numbers: return true
        case let .negate(e): return e.isLiteral
        case let .array(items): return items.allSatisfy(\.isLiteral)
        default: return false
        }
    }

    /// Every call in this expression (`f(a, b)`), outermost first.
    public var calls: [Expr] {
        var out: [Expr] = []
        var stack = [self]
        while let e = stack.popLast() {
            switch e.kind {
            case .number, .name, .numbers: break
            case let .array(items): stack.append(contentsOf: items)
            case let .negate(x), let .transpose(x): stack.append(x)
            case let .binary(_, a, b): stack.append(contentsOf: [a, b])
            case let .call(_, args, _): out.append(e); stack.append(contentsOf: args)
            case let .index(x, idx): stack.append(x); stack.append(contentsOf: idx)
            case let .partial(of, wrt): stack.append(contentsOf: [of, wrt])
            }
        }
        return out
    }

    /// Every name this expression reads (function names excluded), in the order written.
    public var names: [String] {
        var out: [String] = []
        collectNames(into: &out)
        return out
    }

    /// Appends the names read, without copying subexpressions (the depth is bounded by the
    /// parser's height limit).
    func collectNames(into out: inout [String]) {
        switch kind {
        case .number, .numbers: break
        case let .name(n): out.append(n)
        case let .array(items): for item in items { item.collectNames(into: &out) }
        case let .negate(x), let .transpose(x): x.collectNames(into: &out)
        case let .binary(_, a, b), let .partial(a, b):
            a.collectNames(into: &out)
            b.collectNames(into: &out)
        case let .call(_, args, _): for arg in args { arg.collectNames(into: &out) }
        case let .index(x, idx):
            x.collectNames(into: &out)
            for i in idx { i.collectNames(into: &out) }
        }
    }
}

/// One line of input (or several, when a bracket was left open).
public enum Statement: Sendable, Equatable {
    /// `name = expr` or `param name = expr`.
    case definition(name: String, nameRange: SourceRange, isParam: Bool, Expr)
    /// An expression to evaluate and print.
    case expression(Expr)
    /// `seed 42`
    case seed(UInt64, range: SourceRange)
    /// `:name arguments`; `arguments` is the raw rest of the line, starting at `argumentsStart`.
    case command(name: String, nameRange: SourceRange, arguments: String, argumentsStart: SourceLocation)
    /// A blank line or a comment.
    case empty
}
