package daemoncontract

import (
	"testing"
	"unicode"
)

// defaultIgnorableRanges is the property Default_Ignorable_Code_Point as
// DerivedCoreProperties.txt lists it, from Unicode 14.0 (which added
// U+180F) to Unicode 17.0, copied from the standard's file: the list that
// defaultIgnorable, which derives the property from Go's tables, must give.
var defaultIgnorableRanges = [][2]rune{
	{0x00AD, 0x00AD},   // Cf SOFT HYPHEN
	{0x034F, 0x034F},   // Mn COMBINING GRAPHEME JOINER
	{0x061C, 0x061C},   // Cf ARABIC LETTER MARK
	{0x115F, 0x1160},   // Lo HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
	{0x17B4, 0x17B5},   // Mn KHMER VOWEL INHERENT AQ..KHMER VOWEL INHERENT AA
	{0x180B, 0x180D},   // Mn MONGOLIAN FREE VARIATION SELECTOR ONE..THREE
	{0x180E, 0x180E},   // Cf MONGOLIAN VOWEL SEPARATOR
	{0x180F, 0x180F},   // Mn MONGOLIAN FREE VARIATION SELECTOR FOUR
	{0x200B, 0x200F},   // Cf ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
	{0x202A, 0x202E},   // Cf LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
	{0x2060, 0x2064},   // Cf WORD JOINER..INVISIBLE PLUS
	{0x2065, 0x2065},   // Cn <reserved-2065>
	{0x2066, 0x206F},   // Cf LEFT-TO-RIGHT ISOLATE..NOMINAL DIGIT SHAPES
	{0x3164, 0x3164},   // Lo HANGUL FILLER
	{0xFE00, 0xFE0F},   // Mn VARIATION SELECTOR-1..VARIATION SELECTOR-16
	{0xFEFF, 0xFEFF},   // Cf ZERO WIDTH NO-BREAK SPACE
	{0xFFA0, 0xFFA0},   // Lo HALFWIDTH HANGUL FILLER
	{0xFFF0, 0xFFF8},   // Cn <reserved-FFF0>..<reserved-FFF8>
	{0x1BCA0, 0x1BCA3}, // Cf SHORTHAND FORMAT LETTER OVERLAP..SHORTHAND FORMAT UP STEP
	{0x1D173, 0x1D17A}, // Cf MUSICAL SYMBOL BEGIN BEAM..MUSICAL SYMBOL END PHRASE
	{0xE0000, 0xE0000}, // Cn <reserved-E0000>
	{0xE0001, 0xE0001}, // Cf LANGUAGE TAG
	{0xE0002, 0xE001F}, // Cn <reserved-E0002>..<reserved-E001F>
	{0xE0020, 0xE007F}, // Cf TAG SPACE..CANCEL TAG
	{0xE0080, 0xE00FF}, // Cn <reserved-E0080>..<reserved-E00FF>
	{0xE0100, 0xE01EF}, // Mn VARIATION SELECTOR-17..VARIATION SELECTOR-256
	{0xE01F0, 0xE0FFF}, // Cn <reserved-E01F0>..<reserved-E0FFF>
}

func TestDefaultIgnorableIsTheStandardsProperty(t *testing.T) {
	want := map[rune]bool{}
	for _, r := range defaultIgnorableRanges {
		for c := r[0]; c <= r[1]; c++ {
			want[c] = true
		}
	}
	if n := len(want); n != 4174 {
		t.Fatalf("the table lists %d code points; DerivedCoreProperties.txt counts 4174", n)
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got := defaultIgnorable(r); got != want[r] {
			t.Errorf("defaultIgnorable(%U) = %v, want %v (Unicode %s tables)", r, got, want[r], unicode.Version)
		}
	}
}
