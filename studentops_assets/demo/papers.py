"""Real, well-known papers (real DOIs and bibliographic data) that the demo notes and reference files
cite, so that DOI resolution against OpenAlex/Crossref has something true to find.

`summary` is our own one-line description for the demo, not the paper's abstract.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    key: str
    doi: str
    title: str
    authors: tuple[tuple[str, str], ...]  # (family, given); a single corporate author has given ""
    year: int
    venue: str
    kind: str  # article | inproceedings | preprint
    volume: str = ""
    number: str = ""
    pages: str = ""
    topics: tuple[str, ...] = ()  # major slugs, or "learning" for study-skills papers
    summary: str = ""
    proceedings: str = ""  # key of a PROCEEDINGS entry (BibTeX crossref)
    more_authors: bool = False  # the list is truncated ("and others" / "et al.")


@dataclass(frozen=True)
class Proceedings:
    key: str
    title: str
    year: int
    publisher: str
    address: str


def _a(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(part.strip() for part in name.split(",", 1)) if "," in name else (name.strip(), "")
                 for name in text.split(";"))


PROCEEDINGS = {
    p.key: p for p in (
        Proceedings("kdd2019", "Proceedings of the 25th ACM SIGKDD International Conference on Knowledge "
                    "Discovery & Data Mining", 2019, "ACM", "Anchorage, AK, USA"),
        Proceedings("kdd2016", "Proceedings of the 22nd ACM SIGKDD International Conference on Knowledge "
                    "Discovery and Data Mining", 2016, "ACM", "San Francisco, CA, USA"),
        Proceedings("cvpr2016", "2016 IEEE Conference on Computer Vision and Pattern Recognition (CVPR)",
                    2016, "IEEE", "Las Vegas, NV, USA"),
        Proceedings("compstat2010", "Proceedings of COMPSTAT'2010", 2010, "Physica-Verlag HD", "Paris, France"),
    )
}

PAPERS: tuple[Paper, ...] = (
    Paper("lecun2015deep", "10.1038/nature14539", "Deep learning",
          _a("LeCun, Yann; Bengio, Yoshua; Hinton, Geoffrey"), 2015, "Nature", "article", "521", "7553",
          "436--444", ("computer-science",), "A review of representation learning with many-layered networks."),
    Paper("akiba2019optuna", "10.1145/3292500.3330701",
          "Optuna: A Next-generation Hyperparameter Optimization Framework",
          _a("Akiba, Takuya; Sano, Shotaro; Yanase, Toshihiko; Ohta, Takeru; Koyama, Masanori"), 2019,
          "KDD '19", "inproceedings", pages="2623--2631", topics=("computer-science",),
          summary="A define-by-run framework for hyperparameter search with pruning.", proceedings="kdd2019"),
    Paper("vaswani2017attention", "10.48550/arXiv.1706.03762", "Attention Is All You Need",
          _a("Vaswani, Ashish; Shazeer, Noam; Parmar, Niki; Uszkoreit, Jakob; Jones, Llion; Gomez, Aidan N.; "
             "Kaiser, Łukasz; Polosukhin, Illia"), 2017, "arXiv", "preprint", topics=("computer-science",),
          summary="The Transformer: sequence modelling with attention only, no recurrence."),
    Paper("ryan2000selfdetermination", "10.1037/0003-066X.55.1.68",
          "Self-determination theory and the facilitation of intrinsic motivation, social development, "
          "and well-being", _a("Ryan, Richard M.; Deci, Edward L."), 2000, "American Psychologist", "article",
          "55", "1", "68--78", ("psychology", "learning"),
          "Autonomy, competence and relatedness as the basis of intrinsic motivation."),
    Paper("harris2020numpy", "10.1038/s41586-020-2649-2", "Array programming with NumPy",
          _a("Harris, Charles R.; Millman, K. Jarrod; van der Walt, Stéfan J.; Gommers, Ralf"), 2020, "Nature",
          "article", "585", "7825", "357--362", ("computer-science", "statistics"),
          "How the array model of NumPy underpins scientific Python.", more_authors=True),
    Paper("he2016residual", "10.1109/CVPR.2016.90", "Deep Residual Learning for Image Recognition",
          _a("He, Kaiming; Zhang, Xiangyu; Ren, Shaoqing; Sun, Jian"), 2016, "CVPR", "inproceedings",
          pages="770--778", topics=("computer-science",),
          summary="Skip connections make very deep networks trainable.", proceedings="cvpr2016"),
    Paper("chen2016xgboost", "10.1145/2939672.2939785", "XGBoost: A Scalable Tree Boosting System",
          _a("Chen, Tianqi; Guestrin, Carlos"), 2016, "KDD '16", "inproceedings", pages="785--794",
          topics=("computer-science", "statistics"), summary="Gradient-boosted trees engineered for scale.",
          proceedings="kdd2016"),
    Paper("jordan2015machine", "10.1126/science.aaa8415", "Machine learning: Trends, perspectives, and prospects",
          _a("Jordan, M. I.; Mitchell, T. M."), 2015, "Science", "article", "349", "6245", "255--260",
          ("computer-science", "statistics"), "A survey of where machine learning stood and where it was heading."),
    Paper("dunlosky2013improving", "10.1177/1529100612453266",
          "Improving Students' Learning With Effective Learning Techniques: Promising Directions From Cognitive "
          "and Educational Psychology",
          _a("Dunlosky, John; Rawson, Katherine A.; Marsh, Elizabeth J.; Nathan, Mitchell J.; Willingham, Daniel T."),
          2013, "Psychological Science in the Public Interest", "article", "14", "1", "4--58",
          ("psychology", "learning"), "Practice testing and distributed practice rated the most useful techniques."),
    Paper("karpicke2008critical", "10.1126/science.1152408", "The Critical Importance of Retrieval for Learning",
          _a("Karpicke, Jeffrey D.; Roediger, Henry L."), 2008, "Science", "article", "319", "5865", "966--968",
          ("psychology", "learning"), "Repeated retrieval, not repeated study, drives long-term retention."),
    Paper("roediger2006testenhanced", "10.1111/j.1467-9280.2006.01693.x",
          "Test-Enhanced Learning: Taking Memory Tests Improves Long-Term Retention",
          _a("Roediger, Henry L.; Karpicke, Jeffrey D."), 2006, "Psychological Science", "article", "17", "3",
          "249--255", ("psychology", "learning"), "Testing beats restudying after a delay."),
    Paper("cepeda2006distributed", "10.1037/0033-2909.132.3.354",
          "Distributed practice in verbal recall tasks: A review and quantitative synthesis",
          _a("Cepeda, Nicholas J.; Pashler, Harold; Vul, Edward; Wixted, John T.; Rohrer, Doug"), 2006,
          "Psychological Bulletin", "article", "132", "3", "354--380", ("psychology", "learning"),
          "A meta-analysis of the spacing effect and optimal gaps."),
    Paper("engle1982arch", "10.2307/1912773",
          "Autoregressive Conditional Heteroscedasticity with Estimates of the Variance of United Kingdom Inflation",
          _a("Engle, Robert F."), 1982, "Econometrica", "article", "50", "4", "987--1007",
          ("economics", "statistics"), "ARCH models: variance that depends on past shocks."),
    Paper("taylor2018forecasting", "10.1080/00031305.2017.1380080", "Forecasting at Scale",
          _a("Taylor, Sean J.; Letham, Benjamin"), 2018, "The American Statistician", "article", "72", "1",
          "37--45", ("statistics",), "A decomposable trend-plus-seasonality model for many business series."),
    Paper("watson1953molecular", "10.1038/171737a0",
          "Molecular Structure of Nucleic Acids: A Structure for Deoxyribose Nucleic Acid",
          _a("Watson, J. D.; Crick, F. H. C."), 1953, "Nature", "article", "171", "4356", "737--738",
          ("biology",), "The double helix."),
    Paper("jinek2012programmable", "10.1126/science.1225829",
          "A Programmable Dual-RNA–Guided DNA Endonuclease in Adaptive Bacterial Immunity",
          _a("Jinek, Martin; Chylinski, Krzysztof; Fonfara, Ines; Hauer, Michael; Doudna, Jennifer A.; "
             "Charpentier, Emmanuelle"), 2012, "Science", "article", "337", "6096", "816--821", ("biology",),
          "Cas9 guided by a dual RNA cuts DNA at a programmable site."),
    Paper("tversky1974judgment", "10.1126/science.185.4157.1124", "Judgment under Uncertainty: Heuristics and Biases",
          _a("Tversky, Amos; Kahneman, Daniel"), 1974, "Science", "article", "185", "4157", "1124--1131",
          ("psychology", "economics"), "Representativeness, availability and anchoring."),
    Paper("kahneman1979prospect", "10.2307/1914185", "Prospect Theory: An Analysis of Decision under Risk",
          _a("Kahneman, Daniel; Tversky, Amos"), 1979, "Econometrica", "article", "47", "2", "263--291",
          ("economics", "psychology"), "Reference dependence and loss aversion in risky choice."),
    Paper("acemoglu2001colonial", "10.1257/aer.91.5.1369",
          "The Colonial Origins of Comparative Development: An Empirical Investigation",
          _a("Acemoglu, Daron; Johnson, Simon; Robinson, James A."), 2001, "American Economic Review", "article",
          "91", "5", "1369--1401", ("economics",), "Institutions and growth, identified through settler mortality."),
    Paper("akerlof1970lemons", "10.2307/1879431",
          'The Market for "Lemons": Quality Uncertainty and the Market Mechanism', _a("Akerlof, George A."),
          1970, "The Quarterly Journal of Economics", "article", "84", "3", "488--500", ("economics",),
          "Asymmetric information can unravel a market."),
    Paper("fama1970efficient", "10.1111/j.1540-6261.1970.tb00518.x",
          "Efficient Capital Markets: A Review of Theory and Empirical Work", _a("Fama, Eugene F."), 1970,
          "The Journal of Finance", "article", "25", "2", "383--417", ("economics",),
          "Weak, semi-strong and strong forms of market efficiency."),
    Paper("codd1970relational", "10.1145/362384.362685", "A Relational Model of Data for Large Shared Data Banks",
          _a("Codd, E. F."), 1970, "Communications of the ACM", "article", "13", "6", "377--387",
          ("computer-science",), "Relations and data independence."),
    Paper("dijkstra1959note", "10.1007/BF01386390", "A note on two problems in connexion with graphs",
          _a("Dijkstra, E. W."), 1959, "Numerische Mathematik", "article", "1", "1", "269--271",
          ("computer-science", "mathematics"), "Shortest paths and minimum spanning trees in two pages."),
    Paper("lamport1978time", "10.1145/359545.359563",
          "Time, Clocks, and the Ordering of Events in a Distributed System", _a("Lamport, Leslie"), 1978,
          "Communications of the ACM", "article", "21", "7", "558--565", ("computer-science",),
          "Happened-before and logical clocks."),
    Paper("shannon1948mathematical", "10.1002/j.1538-7305.1948.tb01338.x", "A Mathematical Theory of Communication",
          _a("Shannon, C. E."), 1948, "Bell System Technical Journal", "article", "27", "3", "379--423",
          ("computer-science", "mathematics"), "Entropy and channel capacity."),
    Paper("turing1950computing", "10.1093/mind/LIX.236.433", "Computing Machinery and Intelligence",
          _a("Turing, A. M."), 1950, "Mind", "article", "LIX", "236", "433--460", ("computer-science",),
          "The imitation game."),
    Paper("miller1956magical", "10.1037/h0043158",
          "The magical number seven, plus or minus two: Some limits on our capacity for processing information",
          _a("Miller, George A."), 1956, "Psychological Review", "article", "63", "2", "81--97", ("psychology",),
          "Chunking and the span of immediate memory."),
    Paper("milgram1963obedience", "10.1037/h0040525", "Behavioral Study of Obedience", _a("Milgram, Stanley"),
          1963, "The Journal of Abnormal and Social Psychology", "article", "67", "4", "371--378",
          ("psychology",), "The obedience experiments."),
    Paper("osc2015estimating", "10.1126/science.aac4716", "Estimating the reproducibility of psychological science",
          (("Open Science Collaboration", ""),), 2015, "Science", "article", "349", "6251", "aac4716",
          ("psychology", "statistics"), "A hundred replications of published psychology findings."),
    Paper("ioannidis2005why", "10.1371/journal.pmed.0020124", "Why Most Published Research Findings Are False",
          _a("Ioannidis, John P. A."), 2005, "PLoS Medicine", "article", "2", "8", "e124",
          ("statistics", "psychology"), "Low power and many tested hypotheses inflate false positives."),
    Paper("silver2016mastering", "10.1038/nature16961",
          "Mastering the game of Go with deep neural networks and tree search",
          _a("Silver, David; Huang, Aja; Maddison, Chris J.; Guez, Arthur"), 2016, "Nature", "article", "529",
          "7587", "484--489", ("computer-science",), "AlphaGo: policy and value networks with MCTS.",
          more_authors=True),
    Paper("hopfield1982neural", "10.1073/pnas.79.8.2554",
          "Neural networks and physical systems with emergent collective computational abilities",
          _a("Hopfield, J. J."), 1982, "Proceedings of the National Academy of Sciences", "article", "79", "8",
          "2554--2558", ("computer-science", "psychology"), "Associative memory as energy minimisation."),
    Paper("altschul1990basic", "10.1016/S0022-2836(05)80360-2", "Basic local alignment search tool",
          _a("Altschul, Stephen F.; Gish, Warren; Miller, Webb; Myers, Eugene W.; Lipman, David J."), 1990,
          "Journal of Molecular Biology", "article", "215", "3", "403--410", ("biology",), "BLAST."),
    Paper("jumper2021highly", "10.1038/s41586-021-03819-2",
          "Highly accurate protein structure prediction with AlphaFold",
          _a("Jumper, John; Evans, Richard; Pritzel, Alexander; Green, Tim"), 2021, "Nature", "article", "596",
          "7873", "583--589", ("biology", "computer-science"), "AlphaFold 2.", more_authors=True),
    Paper("sanger1977dna", "10.1073/pnas.74.12.5463", "DNA sequencing with chain-terminating inhibitors",
          _a("Sanger, F.; Nicklen, S.; Coulson, A. R."), 1977, "Proceedings of the National Academy of Sciences",
          "article", "74", "12", "5463--5467", ("biology",), "Dideoxy chain-termination sequencing."),
    Paper("may1976simple", "10.1038/261459a0", "Simple mathematical models with very complicated dynamics",
          _a("May, Robert M."), 1976, "Nature", "article", "261", "5560", "459--467",
          ("biology", "mathematics"), "Chaos in the logistic map and population models."),
    Paper("efron1979bootstrap", "10.1214/aos/1176344552", "Bootstrap Methods: Another Look at the Jackknife",
          _a("Efron, B."), 1979, "The Annals of Statistics", "article", "7", "1", "1--26", ("statistics",),
          "Resampling the data to estimate sampling distributions."),
    Paper("cox1972regression", "10.1111/j.2517-6161.1972.tb00899.x", "Regression Models and Life-Tables",
          _a("Cox, D. R."), 1972, "Journal of the Royal Statistical Society: Series B (Methodological)", "article",
          "34", "2", "187--220", ("statistics",), "Proportional hazards with a partial likelihood."),
    Paper("benjamini1995controlling", "10.1111/j.2517-6161.1995.tb02031.x",
          "Controlling the False Discovery Rate: A Practical and Powerful Approach to Multiple Testing",
          _a("Benjamini, Yoav; Hochberg, Yosef"), 1995,
          "Journal of the Royal Statistical Society: Series B (Methodological)", "article", "57", "1", "289--300",
          ("statistics",), "The step-up procedure that controls the FDR."),
    Paper("dempster1977maximum", "10.1111/j.2517-6161.1977.tb01600.x",
          "Maximum Likelihood from Incomplete Data via the EM Algorithm",
          _a("Dempster, A. P.; Laird, N. M.; Rubin, D. B."), 1977,
          "Journal of the Royal Statistical Society: Series B (Methodological)", "article", "39", "1", "1--22",
          ("statistics", "mathematics"), "Expectation-maximisation for missing data."),
    Paper("tibshirani1996regression", "10.1111/j.2517-6161.1996.tb02080.x",
          "Regression Shrinkage and Selection via the Lasso", _a("Tibshirani, Robert"), 1996,
          "Journal of the Royal Statistical Society: Series B (Methodological)", "article", "58", "1", "267--288",
          ("statistics",), "L1-penalised least squares."),
    Paper("breiman2001random", "10.1023/A:1010933404324", "Random Forests", _a("Breiman, Leo"), 2001,
          "Machine Learning", "article", "45", "1", "5--32", ("statistics", "computer-science"),
          "Bagged decorrelated trees."),
    Paper("kaplan1958nonparametric", "10.1080/01621459.1958.10501452",
          "Nonparametric Estimation from Incomplete Observations", _a("Kaplan, E. L.; Meier, Paul"), 1958,
          "Journal of the American Statistical Association", "article", "53", "282", "457--481", ("statistics",),
          "The product-limit estimator of survival."),
    Paper("golub1965calculating", "10.1137/0702016",
          "Calculating the Singular Values and Pseudo-Inverse of a Matrix", _a("Golub, G.; Kahan, W."), 1965,
          "Journal of the Society for Industrial and Applied Mathematics Series B Numerical Analysis", "article",
          "2", "2", "205--224", ("mathematics",), "A stable route to the SVD via bidiagonalisation."),
    Paper("hochreiter1997long", "10.1162/neco.1997.9.8.1735", "Long Short-Term Memory",
          _a("Hochreiter, Sepp; Schmidhuber, Jürgen"), 1997, "Neural Computation", "article", "9", "8",
          "1735--1780", ("computer-science",), "Gated memory cells against vanishing gradients."),
    Paper("bottou2010largescale", "10.1007/978-3-7908-2604-3_16",
          "Large-Scale Machine Learning with Stochastic Gradient Descent", _a("Bottou, Léon"), 2010,
          "COMPSTAT'2010", "inproceedings", pages="177--186", topics=("computer-science", "statistics"),
          summary="Why SGD wins when data is large and time is the constraint.", proceedings="compstat2010"),
)

BY_KEY = {p.key: p for p in PAPERS}


def for_major(major: str) -> list[Paper]:
    return [p for p in PAPERS if major in p.topics]


def learning_papers() -> list[Paper]:
    return [p for p in PAPERS if "learning" in p.topics]
