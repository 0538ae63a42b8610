package translation
import ("encoding/json";"os";"testing")
func TestZZDiff(t *testing.T){ var c [][5]string; d,_:=os.ReadFile("/tmp/diff.json"); json.Unmarshal(d,&c); bad:=0
for _,x:=range c{ if Tokenize13a(x[0])!=x[1] {bad++; if bad<5 {t.Errorf("tok %q: %q vs %q",x[0],Tokenize13a(x[0]),x[1])}}
 if pyLower(x[0])!=x[2]{bad++; if bad<10 {t.Errorf("lower %q: %q vs %q",x[0],pyLower(x[0]),x[2])}}
 if joinPyFields(x[0])!=x[3]{bad++; if bad<15 {t.Errorf("split %q: %q vs %q",x[0],joinPyFields(x[0]),x[3])}}
 if pyRStrip(x[0])!=x[4]{bad++; if bad<20 {t.Errorf("rstrip %q",x[0])}}
}; t.Logf("%d cases, %d bad", len(c), bad)}
