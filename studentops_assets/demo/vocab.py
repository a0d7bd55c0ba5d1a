"""The demo university's catalogue and the course text built from it.

Each course carries its own key terms, so material text, notes and tasks of different courses use
different words: semantic search and per-course summaries then have something real to separate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Major:
    slug: str
    name: str
    prefix: str


@dataclass(frozen=True)
class CourseSpec:
    code: str
    name: str
    major: str  # Major.slug
    semester: int  # 1 = autumn (Sep-Jan), 2 = spring (Feb-Jun)
    terms: tuple[str, ...]

    @property
    def year(self) -> int:
        # The first digit of the number is the study year, as in most European course catalogues.
        return int(next(ch for ch in self.code if ch.isdigit()))


MAJORS: tuple[Major, ...] = (
    Major("computer-science", "Computer Science", "CS"),
    Major("mathematics", "Mathematics", "MATH"),
    Major("psychology", "Psychology", "PSY"),
    Major("economics", "Economics", "ECON"),
    Major("biology", "Biology", "BIO"),
    Major("statistics", "Statistics", "STAT"),
)


def _c(code: str, name: str, major: str, semester: int, terms: str) -> CourseSpec:
    return CourseSpec(code, name, major, semester, tuple(t.strip() for t in terms.split(";")))


COURSES: tuple[CourseSpec, ...] = (
    _c("CS101", "Introduction to Programming", "computer-science", 1,
       "variables and types; control flow; functions; recursion; lists and dictionaries; string handling; "
       "unit testing; debugging; file input and output; exceptions; modules"),
    _c("CS102", "Data Structures", "computer-science", 2,
       "linked lists; stacks and queues; hash tables; binary search trees; heaps; balanced trees; "
       "amortised analysis; graph representations; tries; priority queues"),
    _c("CS201", "Algorithms", "computer-science", 1,
       "asymptotic complexity; divide and conquer; dynamic programming; greedy algorithms; shortest paths; "
       "minimum spanning trees; network flow; NP-completeness; randomised algorithms; sorting lower bounds"),
    _c("CS210", "Computer Architecture", "computer-science", 2,
       "instruction set architecture; pipelining; cache hierarchy; branch prediction; virtual memory; "
       "assembly language; memory consistency; SIMD instructions; bus protocols; performance counters"),
    _c("CS220", "Databases", "computer-science", 1,
       "relational algebra; SQL joins; normal forms; query planning; B-tree indexes; transactions; "
       "isolation levels; write-ahead logging; entity relationship modelling; window functions"),
    _c("CS301", "Operating Systems", "computer-science", 2,
       "processes and threads; scheduling; synchronisation primitives; deadlock; paging; file systems; "
       "system calls; interrupts; virtualisation; containers"),
    _c("CS310", "Machine Learning", "computer-science", 1,
       "linear regression; logistic regression; gradient descent; regularisation; decision trees; "
       "random forests; neural networks; cross-validation; bias-variance trade-off; attention mechanisms"),
    _c("CS410", "Distributed Systems", "computer-science", 2,
       "logical clocks; consensus; replication; partition tolerance; leader election; Raft; "
       "eventual consistency; distributed transactions; failure detectors; sharding"),
    _c("MATH101", "Calculus I", "mathematics", 1,
       "limits; continuity; derivatives; chain rule; implicit differentiation; mean value theorem; "
       "optimisation problems; definite integrals; fundamental theorem of calculus; Taylor polynomials"),
    _c("MATH102", "Linear Algebra", "mathematics", 2,
       "vector spaces; linear maps; matrix multiplication; Gaussian elimination; determinants; "
       "eigenvalues; eigenvectors; orthogonality; singular value decomposition; least squares"),
    _c("MATH201", "Calculus II", "mathematics", 1,
       "partial derivatives; multiple integrals; change of variables; vector fields; line integrals; "
       "Green's theorem; divergence theorem; power series; convergence tests; Lagrange multipliers"),
    _c("MATH210", "Discrete Mathematics", "mathematics", 2,
       "propositional logic; proof by induction; combinatorics; pigeonhole principle; recurrence relations; "
       "graph colouring; equivalence relations; modular arithmetic; generating functions; trees"),
    _c("MATH220", "Probability Theory", "mathematics", 1,
       "sample spaces; conditional probability; Bayes' rule; random variables; expectation; variance; "
       "law of large numbers; central limit theorem; moment generating functions; Markov chains"),
    _c("MATH301", "Real Analysis", "mathematics", 2,
       "completeness axiom; Cauchy sequences; uniform convergence; compactness; metric spaces; "
       "Riemann integral; epsilon-delta proofs; open and closed sets; continuity of functions; series of functions"),
    _c("MATH310", "Numerical Methods", "mathematics", 1,
       "floating point error; root finding; Newton's method; interpolation; numerical integration; "
       "LU decomposition; iterative solvers; conditioning; ordinary differential equations; stability"),
    _c("PSY101", "Introduction to Psychology", "psychology", 1,
       "perception; consciousness; learning theories; classical conditioning; operant conditioning; "
       "personality; emotion; motivation; psychological disorders; therapy approaches"),
    _c("PSY110", "Research Methods in Psychology", "psychology", 2,
       "experimental design; operationalisation; validity; reliability; sampling; pre-registration; "
       "effect sizes; replication; questionnaires; research ethics"),
    _c("PSY201", "Cognitive Psychology", "psychology", 1,
       "working memory; attention; long-term memory; mental imagery; categorisation; problem solving; "
       "decision heuristics; language comprehension; cognitive load; dual-process theories"),
    _c("PSY210", "Developmental Psychology", "psychology", 2,
       "attachment; cognitive development stages; theory of mind; language acquisition; adolescence; "
       "temperament; moral development; peer relations; ageing; nature and nurture"),
    _c("PSY220", "Social Psychology", "psychology", 1,
       "attitudes; social influence; conformity; obedience; group dynamics; prejudice; "
       "attribution; persuasion; prosocial behaviour; self-concept"),
    _c("PSY301", "Biological Psychology", "psychology", 2,
       "neurons; neurotransmitters; synaptic plasticity; brain imaging; sleep; stress hormones; "
       "the limbic system; hemispheric specialisation; psychopharmacology; neurodevelopment"),
    _c("PSY410", "Learning and Memory", "psychology", 1,
       "spacing effect; retrieval practice; interleaving; forgetting curves; encoding specificity; "
       "consolidation; metacognition; testing effect; desirable difficulties; self-regulated learning"),
    _c("ECON101", "Principles of Microeconomics", "economics", 1,
       "supply and demand; elasticity; consumer surplus; opportunity cost; market equilibrium; "
       "price controls; externalities; public goods; perfect competition; monopoly"),
    _c("ECON120", "Principles of Macroeconomics", "economics", 2,
       "gross domestic product; inflation; unemployment; monetary policy; fiscal policy; "
       "aggregate demand; exchange rates; economic growth; business cycles; central banks"),
    _c("ECON201", "Intermediate Microeconomics", "economics", 1,
       "utility maximisation; indifference curves; cost functions; game theory; Nash equilibrium; "
       "oligopoly; general equilibrium; welfare theorems; asymmetric information; auctions"),
    _c("ECON210", "Econometrics I", "economics", 2,
       "ordinary least squares; omitted variable bias; instrumental variables; heteroskedasticity; "
       "panel data; fixed effects; difference in differences; hypothesis tests; multicollinearity; causal inference"),
    _c("ECON301", "Behavioural Economics", "economics", 1,
       "prospect theory; loss aversion; present bias; mental accounting; anchoring; nudges; "
       "bounded rationality; framing effects; social preferences; choice architecture"),
    _c("ECON410", "Financial Economics", "economics", 2,
       "efficient markets; portfolio theory; capital asset pricing model; arbitrage; options pricing; "
       "bond valuation; risk premia; volatility; market microstructure; asset bubbles"),
    _c("BIO101", "Cell Biology", "biology", 1,
       "cell membranes; organelles; cellular respiration; photosynthesis; cell cycle; mitosis; "
       "signal transduction; cytoskeleton; protein trafficking; apoptosis"),
    _c("BIO150", "Genetics", "biology", 2,
       "Mendelian inheritance; alleles; linkage; recombination; mutations; gene expression; "
       "pedigree analysis; population genetics; genetic drift; CRISPR gene editing"),
    _c("BIO201", "Evolutionary Biology", "biology", 1,
       "natural selection; adaptation; speciation; phylogenetics; sexual selection; coevolution; "
       "fitness landscapes; molecular clocks; kin selection; the fossil record"),
    _c("BIO210", "Ecology", "biology", 2,
       "population growth; carrying capacity; predator-prey dynamics; niches; food webs; "
       "biodiversity; succession; nutrient cycles; island biogeography; climate impacts"),
    _c("BIO301", "Molecular Biology", "biology", 1,
       "DNA replication; transcription; translation; RNA splicing; gene regulation; PCR; "
       "protein folding; DNA repair; epigenetics; sequencing technologies"),
    _c("BIO310", "Bioinformatics", "biology", 2,
       "sequence alignment; BLAST searches; phylogenetic trees; genome assembly; hidden Markov models; "
       "protein structure prediction; gene ontology; read mapping; variant calling; expression analysis"),
    _c("STAT101", "Introductory Statistics", "statistics", 1,
       "descriptive statistics; sampling distributions; confidence intervals; hypothesis testing; p-values; "
       "t-tests; chi-square tests; correlation; simple regression; statistical power"),
    _c("STAT201", "Statistical Inference", "statistics", 2,
       "likelihood; maximum likelihood estimation; sufficiency; Fisher information; bootstrap; "
       "likelihood ratio tests; multiple testing; false discovery rate; exponential families; estimators"),
    _c("STAT210", "Regression Analysis", "statistics", 1,
       "multiple regression; residual diagnostics; interaction terms; generalised linear models; "
       "logistic models; model selection; lasso; ridge regression; leverage; collinearity"),
    _c("STAT220", "Bayesian Statistics", "statistics", 2,
       "prior distributions; posterior inference; conjugate priors; Markov chain Monte Carlo; Gibbs sampling; "
       "hierarchical models; credible intervals; posterior predictive checks; Bayes factors; the EM algorithm"),
    _c("STAT301", "Time Series Analysis", "statistics", 1,
       "stationarity; autocorrelation; ARIMA models; seasonality; exponential smoothing; "
       "forecast intervals; volatility models; spectral analysis; state space models; forecast evaluation"),
    _c("STAT410", "Survival Analysis", "statistics", 2,
       "censoring; hazard functions; Kaplan-Meier estimator; log-rank test; Cox proportional hazards; "
       "time-varying covariates; competing risks; frailty models; accelerated failure time; churn modelling"),
)

MATERIAL_TYPES: tuple[tuple[int, str], ...] = (
    (1, "Slides"),
    (2, "Exam"),
    (3, "Lecture Notes"),
    (4, "Summary"),
    (5, "Homework"),
)

# Sentence frames for course text. {a} and {b} are key terms of the same course, {course} its name.
_FRAMES = (
    "In {course}, {a} is introduced before {b} because the second idea builds directly on the first.",
    "A common mistake is to treat {a} and {b} as the same thing; the worked example shows where they differ.",
    "Think of {a} as the tool and {b} as the question it answers.",
    "The exam usually asks you to explain {a} in your own words and then apply it to a short case about {b}.",
    "When you revise {a}, write down one example where it fails and one where it works well.",
    "Most of this week's exercises combine {a} with {b}, so practise them together rather than separately.",
    "The lecture derived {a} step by step; the key assumption is stated on the third slide.",
    "{A} matters in practice because almost every later topic of {course} relies on it.",
    "Compare {a} with {b}: both describe the same situation from a different angle.",
    "A good summary of {a} fits on one index card: definition, one example, one limitation.",
    "Last year's students found {a} the hardest part of {course}; start early and ask questions in the tutorial.",
    "The reading for this week connects {a} to {b} and gives a historical perspective.",
    "If {a} feels abstract, draw a diagram first and only then write the formal definition.",
    "The homework checks whether you can recognise {a} in a problem that never names it.",
)

_OPENINGS = (
    "## Overview\n\nThis material covers {a} and {b} as taught in {course}.",
    "## Learning goals\n\nAfter this part of {course} you should be able to explain {a}, relate it to {b} "
    "and solve a typical exam question on it.",
    "## Background\n\n{A} was on the syllabus of {course} from the start; this text revisits it with {b} in mind.",
)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentence(rng: random.Random, course: CourseSpec, focus: str | None = None) -> str:
    a = focus or rng.choice(course.terms)
    b = rng.choice([t for t in course.terms if t != a])
    return rng.choice(_FRAMES).format(a=a, b=b, A=_cap(a), course=course.name)


def distinct_sentences(rng: random.Random, course: CourseSpec, focus: str | None, count: int) -> list[str]:
    """`count` different sentences; about half about `focus` (if given), the rest about the course."""
    out: list[str] = []
    for _ in range(count * 10):  # bounded: a few redraws always suffice with 14 frames x 10 terms
        if len(out) == count:
            break
        text = sentence(rng, course, focus if focus and rng.random() < 0.5 else None)
        if text not in out:
            out.append(text)
    return out


def prose(rng: random.Random, course: CourseSpec, focus: str, sentences: int) -> str:
    return " ".join(distinct_sentences(rng, course, focus, sentences))


def paragraphs(rng: random.Random, course: CourseSpec, focus: str, count: int) -> str:
    """A few markdown paragraphs about `focus`, a key term of `course`, for chunking and embedding."""
    b = rng.choice([t for t in course.terms if t != focus])
    parts = [rng.choice(_OPENINGS).format(a=focus, b=b, A=_cap(focus), course=course.name)]
    parts += [prose(rng, course, focus, rng.randint(3, 5)) for _ in range(count)]
    return "\n\n".join(parts) + "\n"
