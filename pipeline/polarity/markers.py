"""Japanese function words and predicate classes that compose polarity.

These are closed classes of the language, not vocabulary read off a data set:
negators, contrast connectives, the inflections and auxiliaries of hypotheticals,
wishes, obligation and questions, and two classes of predicates that act as
*polarity shifters* (Choi & Cardie, EMNLP 2008; Nakagawa, Inui & Kurohashi, NAACL
2010, whose "reversal" words are the same idea):

* change predicates: the polarity of ``X が増加`` is the polarity of X if the change
  is an increase and its reverse if it is a decrease (損失が減少 is good news);
  level predicates (高い, 多い, 低い, 少ない) behave the same way when their subject
  is a quantity whose direction is known;
* removal predicates: ``X を解消/回避/防止/克服`` reverses the polarity of X (赤字を解消).

Predicates outside these lists keep their own lexicon polarity.
"""

from __future__ import annotations

NEGATORS = frozenset({"ない", "ぬ", "ず", "ん", "無い"})
# Nouns that negate the predicate before them: 問題なし, 〜ことなく.
NEGATING_NOUNS = frozenset({"なし", "無し"})

CONTRAST_PARTICLES = frozenset({"が", "けど", "けれど", "けれども", "のに", "ものの", "だけど", "ながら"})
CONTRAST_CONJUNCTIONS = frozenset({"しかし", "でも", "だが", "けれど", "けれども", "ところが", "だけど",
                                   "ただ", "ただし", "とはいえ", "それでも"})

# Hypotheticals: the conditional (仮定形) inflection carries 〜ば/〜たら/〜なら; also the
# particle ば after other forms and the conditional noun 場合.
CONDITIONAL_PARTICLES = frozenset({"ば", "たら", "なら", "ならば"})
WISH_AUXILIARIES = frozenset({"たい", "ほしい", "欲しい"})
OBLIGATION_AUXILIARIES = frozenset({"べし", "べき"})
QUESTION_PARTICLES = frozenset({"か", "かな", "かしら"})

# Change predicates (increase: +1, decrease: -1), as Sudachi lemmas. 増/減 are the
# bound nouns of 売上減, 15％減.
CHANGE = {
    **dict.fromkeys(("増加", "増える", "増す", "増大", "上昇", "上がる", "拡大", "伸びる", "伸長",
                     "高まる", "強まる", "増", "上回る", "膨らむ", "広がる", "急増", "急騰", "高騰",
                     "倍増", "押し上げる", "引き上げる", "積み増す", "激化", "増進", "拡がる",
                     "伸ばす", "増やす", "高める", "強める", "上向く"), +1),
    **dict.fromkeys(("減少", "減る", "減", "低下", "下がる", "下落", "縮小", "減退", "下回る",
                     "落ち込む", "落ちる", "弱まる", "鈍化", "急減", "急落", "半減", "目減り", "縮む",
                     "押し下げる", "引き下げる", "削減", "減らす", "圧縮", "軽減", "低減", "縮減",
                     "下げる", "弱める", "和らぐ", "緩和", "抑える"), -1),
}
# Level predicates: like change predicates, but only where the subject's direction is
# known, since on their own they are mostly descriptive (背が高い).
LEVEL = {"高い": +1, "多い": +1, "大きい": +1, "強い": +1,
         "低い": -1, "少ない": -1, "小さい": -1, "弱い": -1}
REMOVAL = frozenset({"解消", "回避", "防止", "克服", "脱却", "払拭", "解決", "阻止", "抑制", "撲滅",
                     "免れる", "脱する", "防ぐ", "避ける", "食い止める", "一掃", "打開", "乗り越える",
                     "歯止め", "解放", "脱出", "予防"})

# Light predicates that take a change noun as their complement: 減少となる, 増加を示す.
LIGHT = frozenset({"なる", "する", "いたす", "推移", "示す", "見せる", "続く", "転じる", "記録",
                   "ある", "みる", "見る", "致す"})

ARGUMENT_DEPS = ("nsubj", "obj", "nsubj:pass", "nmod", "compound", "obl", "iobj")
