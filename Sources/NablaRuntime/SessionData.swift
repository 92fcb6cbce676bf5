import NablaNN
import NablaTensor

/// The data `:data` loaded: what `:train` feeds through `X` and `Y`.
package struct TrainingData {
    package var train: Dataset
    package var validation: Dataset?
    package var test: Dataset?
    package var xName = "X"
    package var yName = "Y"

    /// The most numbers a split puts into the graph at once (`Session.heldNumbers`): 2 million
    /// (16 MB as float64). Every node keeps its value, so the 60,000 MNIST images in full
    /// would take about 1.3 GB of activations; above this limit X and Y hold the split's
    /// first rows, and :train and its evaluations go through all of them in windows of that
    /// many rows.
    package static let defaultHeldNumbers = 2_000_000

    /// `hold=N`: X and Y hold at most N training rows (a convnet's activations are tens of
    /// times its input: `hold=64` keeps its float64 definitions quick).
    package var holdRows: Int?
    /// The training rows X and Y hold (made once by `install`).
    package var trainWindow: Dataset?
    package var heldTrain: Dataset { trainWindow ?? train }

    package init(train: Dataset, validation: Dataset?, test: Dataset?) {
        (self.train, self.validation, self.test) = (train, validation, test)
    }
}

/// The per-epoch figures of the last `:train`, for the curves.
package struct TrainingHistory {
    package var loss: [Double] = []
    package var accuracy: [Double] = []
    package var validationLoss: [Double] = []
    package var validationAccuracy: [Double] = []
    /// The accuracy on the whole test split at the end of training (`nabla mnist` prints it).
    package var testAccuracy: Double?

    package init() {}
}
