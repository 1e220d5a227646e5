import csv, re, sys, collections
sys.path.insert(0,'.')
from db.directory import directory_seed, load_regions, STANDARD_REGIONAL_UNITS
from domain.regions import Gazetteer, Place
from activities.routing import DirectoryEntry, _mentions, normalize
places=[Place(r.code,r.name,r.level) for r in load_regions()]
places+=[Place(r['code'],r['name'],3) for r in csv.DictReader(open('db/seed/districts.csv'))]
gz=Gazetteer(places)
seeds=directory_seed.__wrapped__()
entries=[DirectoryEntry(s.id,s.name,s.kind.value,s.region_code,s.aliases) for s in seeds]
by_region={(e.kind,e.region_code):e.id for e in entries if e.region_code and e.kind in('province','regency','city')}
national=[e for e in entries if e.kind not in('province','regency','city')]
units={s.id:{u.slug:u.name for u in s.units} for s in seeds}
def gov(code):
    if '.' in code:
        return by_region.get(('regency',code)) or by_region.get(('city',code))
    return by_region.get(('province',code))
def std_unit(label):
    h=normalize(label); best=None
    for u in STANDARD_REGIONAL_UNITS:
        for t in (u.name,*u.aliases):
            if normalize(t) in h and (best is None or len(t)>best[0]): best=(len(t),u.slug)
    if 'bina marga' in h.lower() or 'pekerjaan umum' in h: best=best or (0,'pupr')
    return best[1] if best else ''
rows=list(csv.DictReader(open('data/lapor2017_routing.csv')))
train=[r for r in rows if int(r['lapor_id'])%5!=0 and r['agency']]
out=[]
for lab in csv.DictReader(open('data/lapor2017_agencies.csv')):
    name=lab['agency']; aid=''; unit=''; match='yes'; how=''
    m=re.match(r'BPJS Kesehatan (KCU?|Divisi Regional) (.+)',name)
    m2=re.match(r'BPJS Ketenagakerjaan Kacab (.+)',name)
    m3=re.match(r'(?:Aceh - )?Kanim Kelas I (?:Khusus )?(.+)',name)
    m4=re.match(r'Kanwil Kementerian Hukum dan HAM (.+)',name)
    m5=re.match(r'BKN Kantor Regional (\w+) ',name)
    m6=re.match(r'Kanwil BPN Provinsi (.+)',name)
    m7=re.match(r'Koordinasi Perguruan Tinggi Swasta Wilayah (\w+)',name)
    slug=lambda s: re.sub(r'[^a-z0-9]+','-',s.lower()).strip('-')
    roman={'I':1,'II':2,'III':3,'IV':4,'V':5,'VI':6,'VII':7,'VIII':8,'IX':9,'X':10,'XI':11,'XII':12,'XIII':13,'XIV':14}
    if m: aid='bpjs-kesehatan'; unit=('kcu-' if m.group(1)=='KCU' else 'kc-' if m.group(1)=='KC' else 'divre-')+slug(m.group(2)); how='branch'
    elif m2: aid='bpjs-ketenagakerjaan'; unit='kacab-'+slug(m2.group(1)); how='branch'
    elif m3: aid='kemenimipas'; unit='kanim-'+slug(m3.group(1)); how='branch'
    elif m4: aid='kemenkum'; unit='kanwil-'+slug(m4.group(1)); how='branch'
    elif m5: aid='bkn'; unit=f'kanreg-{roman[m5.group(1)]}'; how='branch'
    elif m6: aid='atr-bpn'; unit='kanwil-'+slug(m6.group(1)); how='branch'
    elif m7: aid='kemdiktisaintek'; unit=f'lldikti-{roman[m7.group(1)]}'; how='branch'
    else:
        ment=_mentions(name,national)
        if ment and not re.match(r'(Pemerintah|Dinas|Badan .* Daerah|Kecamatan|Kelurahan|Kantor Satuan|Satuan Polisi|Satpol|Bagian|Sekretariat|RSUD|Rumah Sakit|PDAM|PD |Inspektorat|Kantor Walikota|DPUPR|Disdukcapil|Diskominfo|Asisten|Biro .*Provinsi)',name,re.I):
            aid=max(ment,key=lambda k:len(ment[k][0])); how='national name'
        else:
            r=gz.resolve(name)
            if r and r.strength>=0.6:
                aid=gov(r.code) or ''; unit=std_unit(name); how=f'region {r.term}'
            elif ment:
                aid=max(ment,key=lambda k:len(ment[k][0])); how='national name'
            else:
                # regionless regional account: the government its train-split reports name
                texts=[x['title']+' '+x['text'] for x in train if x['agency']==name]
                c=collections.Counter()
                for t in texts:
                    rr=gz.resolve(t)
                    if rr: c[gov(rr.code) or '']+=1
                    else:
                        mm=_mentions(t,national)
                        if mm: c[max(mm,key=lambda k:len(mm[k][0]))]+=1
                if c and c.most_common(1)[0][1]*2>len(texts):
                    aid=c.most_common(1)[0][0]; unit=std_unit(name); match='no'; how=f'regionless; train reports name {aid} ({c.most_common(1)[0][1]}/{len(texts)})'
                else: how='UNMAPPED'
    out.append((name,aid,unit,match,how))
w=csv.writer(sys.stdout,lineterminator='\n'); w.writerow(['name','agency_id','unit_slug','match_in_text','how'])
for o in out: w.writerow(o)
