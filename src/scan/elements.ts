/** Chemical symbols, for validating element map names (an optional X-ray line suffix is allowed: Fe_K). */
const SYMBOLS = (
  "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr " +
  "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb " +
  "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf " +
  "Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split(" ");

export const CHEMICAL_SYMBOLS: ReadonlySet<string> = new Set(SYMBOLS);

/** The element symbol of a map name ("Fe", "Fe_K", "Pb_L"), or null when it is not one. */
export function elementOf(name: string): string | null {
  const m = /^([A-Z][a-z]?)(?:_(?:K|L|M)(?:a|b)?\d?)?$/.exec(name);
  return m && CHEMICAL_SYMBOLS.has(m[1]) ? m[1] : null;
}
